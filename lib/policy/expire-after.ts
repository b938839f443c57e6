/**
 * The user's expiration settings, `expireAfter` and `urlsExpireAfter` (requests-cache
 * `policy/expiration.py`), as a union instead of requests-cache's sentinel numbers, so "do not cache" can
 * never be mistaken for a lifetime.
 */
import { InvalidOptionError } from '../errors.js'

export type Expiration =
  | { readonly kind: 'after'; readonly seconds: number }
  | { readonly kind: 'never' }
  | { readonly kind: 'do-not-cache' }

const EXPECTED = 'a number of seconds ≥ 0, -1, false or "never"'
const NEVER: Expiration = { kind: 'never' }
const DO_NOT_CACHE: Expiration = { kind: 'do-not-cache' }

/**
 * Validates one `ExpireAfter` value. Seconds may be fractional (requests-cache accepts any timedelta);
 * `Infinity` is refused so that "forever" is always spelled `'never'`. Note that `-1` means *do not cache*
 * here, whereas requests-cache reads `-1` as never-expire: our `ExpireAfter` type documents `-1` as
 * `false`'s synonym, and the string `'never'` covers the other meaning unambiguously.
 */
export function toExpiration(value: unknown, option: string): Expiration {
  if (value === false || value === -1) return DO_NOT_CACHE
  if (value === 'never') return NEVER
  // `+ 0` turns -0 into 0.
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return { kind: 'after', seconds: value + 0 }
  throw new InvalidOptionError(option, EXPECTED, value)
}

export interface UrlRule {
  readonly pattern: string
  readonly expiration: Expiration
  matches(url: URL): boolean
}

/**
 * Compiles `urlsExpireAfter` once, keeping insertion order (first match wins).
 *
 * Pattern semantics follow requests-cache's `_url_match`:
 * - matched against the URL without its scheme: `host[:port]/path?query` (userinfo and fragment left out:
 *   neither identifies the resource); a scheme written in the pattern is dropped;
 * - `*` matches any run of characters, `/` included, so `'*.png'` matches `cdn.example.com/img/a.png`;
 * - a trailing `*` is always implied, so `'api.example.com/users'` also matches `.../users/1`,
 *   `.../users?page=2` and, as in requests-cache, `.../users-archive`;
 * - the query string takes part, so `'example.com/search?q=*'` works.
 *
 * Deviations from requests-cache (Python `fnmatch`): `?` and `[...]` are literal characters, because `?`
 * starts every query string; and the host part is case-insensitive (hosts are, RFC 3986 §3.2.2) while the
 * path stays case-sensitive. For a pattern without `/` we cannot tell host from path, so both the pattern
 * as written and its lowercase form are tried.
 */
export function compileUrlRules(rules: Readonly<Record<string, unknown>>, option: string): readonly UrlRule[] {
  if (rules === null || typeof rules !== 'object' || Array.isArray(rules)) {
    throw new InvalidOptionError(option, 'an object mapping URL patterns to expirations', rules)
  }
  return Object.entries(rules).map(([pattern, value]) => {
    const expiration = toExpiration(value, `${option}['${pattern}']`)
    const regexes = patternRegexes(pattern)
    return {
      pattern,
      expiration,
      matches: (url: URL) => {
        const target = matchTarget(url)
        return regexes.some((re) => re.test(target))
      },
    }
  })
}

/** The first rule matching `url`, in insertion order, else `fallback` (the `expireAfter` option). */
export function userExpiration(url: URL, rules: readonly UrlRule[], fallback: Expiration | undefined): Expiration | undefined {
  for (const rule of rules) if (rule.matches(url)) return rule.expiration
  return fallback
}

function matchTarget(url: URL): string {
  // URL already lowercases the host and drops default ports.
  return url.host + url.pathname + url.search
}

function patternRegexes(pattern: string): RegExp[] {
  const schemeEnd = pattern.indexOf('://')
  const bare = schemeEnd === -1 ? pattern : pattern.slice(schemeEnd + 3)
  const slash = bare.indexOf('/')
  const variants =
    slash === -1
      ? [bare, bare.toLowerCase()]
      : [bare.slice(0, slash).toLowerCase() + bare.slice(slash)]
  return [...new Set(variants)].map(globRegex)
}

function globRegex(glob: string): RegExp {
  // Anchored at the start only: the missing `$` is the implied trailing wildcard.
  const parts = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
  return new RegExp('^' + parts.join('.*'), 's')
}
