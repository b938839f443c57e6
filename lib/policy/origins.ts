/**
 * The `origins` option: the only origins the cache serves. A request to any other origin is forwarded
 * untouched (interceptor.ts): not looked up, not stored, and its unsafe methods invalidate nothing,
 * since nothing of that origin can be stored here to invalidate (RFC 9111 §4.4 reaches only URIs the
 * cache stores).
 *
 * Matching is undici's (`interceptors.cache({ origins })`, lib/interceptor/cache.js): a string matches
 * case-insensitively, a RegExp is tested against the lowercase origin. Both sides are the origin as
 * `URL.origin` serialises it (`scheme://host[:port]`, the default port dropped, no trailing slash), so
 * two spellings of one origin agree. undici compares the raw `opts.origin` instead, where
 * `'https://example.com:443'` never matches `'https://example.com'` and a URL object gains a trailing
 * slash. A RegExp's `g` and `y` flags are dropped: with them RegExp.prototype.test resumes from
 * `lastIndex`, and would refuse every other request to an allowed origin.
 */
import { InvalidOptionError } from '../errors.js'

export interface OriginRule {
  /** Allowed origins, as URL.origin serialises them. */
  readonly origins: ReadonlySet<string>
  /** Tested against the request's URL.origin, in the order given. */
  readonly patterns: readonly RegExp[]
}

const EXPECTED = "an array of origins ('https://api.example.com', no path) and RegExps tested against such an origin"

/** Validates the option: undefined (every origin) or a rule; throws InvalidOptionError naming `option`. */
export function compileOrigins(value: unknown, option: string): OriginRule | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value)) throw new InvalidOptionError(option, EXPECTED, value)
  const origins = new Set<string>()
  const patterns: RegExp[] = []
  for (const item of value as unknown[]) {
    if (item instanceof RegExp) patterns.push(new RegExp(item.source, item.flags.replace(/[gy]/g, '')))
    else if (typeof item === 'string') origins.add(toOrigin(item, option, value))
    else throw new InvalidOptionError(option, EXPECTED, value)
  }
  return { origins, patterns }
}

/** Whether the cache serves `url`'s origin: every origin when the option is unset. */
export function servesOrigin(rule: OriginRule | undefined, url: URL): boolean {
  if (rule === undefined) return true
  const origin = url.origin
  if (rule.origins.has(origin)) return true
  for (const pattern of rule.patterns) if (pattern.test(origin)) return true
  return false
}

/**
 * An http(s) origin string as URL.origin serialises it (lowercase, default port dropped). Anything
 * more than an origin (a path, a query, credentials) is refused rather than silently never matched,
 * as it would be by undici: a path prefix is not what this option filters on.
 */
function toOrigin(item: string, option: string, value: unknown): string {
  let url: URL
  try {
    url = new URL(item)
  } catch {
    throw new InvalidOptionError(option, EXPECTED, value)
  }
  const bare = url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && url.password === ''
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !bare || /[?#@]/.test(item)) throw new InvalidOptionError(option, EXPECTED, value)
  return url.origin
}
