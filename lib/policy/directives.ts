/**
 * Cache-Control / Pragma parsing for requests and responses (RFC 9111 §5.2, §5.4).
 */
import { fieldLines, fieldValue, splitList, type HeaderRecord } from '../headers.js'

export interface ResponseDirectives {
  /** `max-age` in seconds (RFC 9111 §5.2.2.1); undefined when absent. */
  readonly maxAge: number | undefined
  /** `s-maxage` (§5.2.2.10): parsed but ignored by this private cache's freshness. */
  readonly sMaxAge: number | undefined
  /** `no-cache` (§5.2.2.4): true when unqualified; the lowercased field names when qualified. */
  readonly noCache: boolean | readonly string[]
  readonly noStore: boolean
  /** `private` (§5.2.2.7): true when unqualified; the lowercased field names when qualified. */
  readonly private: boolean | readonly string[]
  readonly public: boolean
  readonly mustRevalidate: boolean
  readonly proxyRevalidate: boolean
  readonly immutable: boolean
  /**
   * `must-understand` (§5.2.2.3): store only if the cache understands the status code's caching rules,
   * and then ignore an accompanying `no-store`.
   */
  readonly mustUnderstand: boolean
  /** RFC 5861 §3, seconds. */
  readonly staleWhileRevalidate: number | undefined
  /** RFC 5861 §4, seconds. */
  readonly staleIfError: number | undefined
  /**
   * A freshness directive appeared more than once with different values, or had an invalid or malformed
   * (§5.2) value: RFC 9111 §4.2.1 lets a cache treat such a response as stale, and we do.
   */
  readonly invalid: boolean
}

export interface RequestDirectives {
  readonly maxAge: number | undefined
  /** Seconds of staleness accepted; Infinity for a bare `max-stale` (§5.2.1.2). */
  readonly maxStale: number | undefined
  readonly minFresh: number | undefined
  /** `no-cache`, or `Pragma: no-cache` when the request has no Cache-Control (§5.4). */
  readonly noCache: boolean
  readonly noStore: boolean
  readonly onlyIfCached: boolean
  /** RFC 5861 §4, seconds. */
  readonly staleIfError: number | undefined
}

/** Largest delta-seconds value a cache must handle; larger values are read as this (RFC 9111 §1.2.2). */
export const MAX_DELTA_SECONDS = 2147483648

const NOT_A_DELTA = -1

/**
 * Reads a delta-seconds value (RFC 9111 §1.2.2): one or more digits, nothing else. Returns NOT_A_DELTA for
 * a missing, signed, fractional or otherwise malformed value, and clamps overflow to MAX_DELTA_SECONDS.
 */
export function parseDeltaSeconds(value: string | undefined): number {
  if (value === undefined || value.length === 0) return NOT_A_DELTA
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return NOT_A_DELTA
  }
  if (value.length > 10) return MAX_DELTA_SECONDS
  return Math.min(Number(value), MAX_DELTA_SECONDS)
}

/**
 * A directive's argument as written: undefined when there is no `=`, MALFORMED when whitespace stands
 * around the `=`. RFC 9111 §5.2 defines `cache-directive = token [ "=" ( token / quoted-string ) ]`,
 * with no OWS on either side of `=`, so `max-age =3600` and `max-age= 3600` are not a max-age of 3600
 * (cache-tests freshness-max-age-space-before-equals / -after-equals): each directive decides what a
 * malformed argument means, always the reading that lets the cache do less.
 */
type Argument = string | undefined | typeof MALFORMED
const MALFORMED: unique symbol = Symbol('malformed argument')

/**
 * Calls `visit(name, argument)` for each directive in every Cache-Control line, in order: names
 * lowercased, arguments unquoted (RFC 9110 §5.6.4). Several lines are one list (RFC 9110 §5.3), and OWS
 * around the commas is list syntax (RFC 9110 §5.6.1), not part of a name or an argument. A comma inside a
 * quoted-string does not split, so `extension="max-age=3600"` holds no max-age (cache-tests
 * freshness-max-age-ignore-quoted). One pass over each line.
 */
function eachDirective(headers: HeaderRecord, visit: (name: string, argument: Argument) => void): void {
  for (const line of fieldLines(headers, 'cache-control')) {
    let start = 0
    let eq = -1
    let quoted = false
    for (let i = 0; i <= line.length; i++) {
      // The end of the line closes the last directive, even inside an unterminated quoted-string.
      const c = i < line.length ? line.charCodeAt(i) : 0x2c
      if (quoted && i < line.length) {
        if (c === 0x5c /* \ */) i++
        else if (c === 0x22 /* " */) quoted = false
        continue
      }
      if (c === 0x22) quoted = true
      else if (c === 0x3d /* = */ && eq === -1) eq = i
      else if (c === 0x2c /* , */) {
        const rawName = line.slice(start, eq === -1 ? i : eq)
        const name = rawName.trim().toLowerCase()
        if (name !== '') visit(name, eq === -1 ? undefined : argument(rawName, line.slice(eq + 1, i)))
        start = i + 1
        eq = -1
      }
    }
  }
}

const OWS_AT_END = /[ \t]+$/
const OWS_AT_START = /^[ \t]/

/** The argument after `=`, from the raw text on either side of it; §5.2 allows no whitespace next to `=`. */
function argument(rawName: string, rawValue: string): Argument {
  const value = rawValue.replace(OWS_AT_END, '')
  return OWS_AT_END.test(rawName) || OWS_AT_START.test(value) ? MALFORMED : unquote(value)
}

/**
 * A delta-seconds argument (§1.2.2), NOT_A_DELTA when it is missing or malformed. §5.2: recipients "ought
 * to accept both forms, even if a specific form is required for generation", so `max-age="60"` is 60.
 */
function deltaArgument(value: Argument): number {
  return typeof value === 'string' ? parseDeltaSeconds(value) : NOT_A_DELTA
}

const QUOTED_PAIR = /\\(.)/g

function unquote(value: string): string {
  if (value.length < 2 || value.charCodeAt(0) !== 0x22 || value.charCodeAt(value.length - 1) !== 0x22) return value
  const inner = value.slice(1, -1)
  return inner.includes('\\') ? inner.replace(QUOTED_PAIR, '$1') : inner
}

/** The field names of a qualified `no-cache="…"` / `private="…"`, lowercased (RFC 9111 §5.2.2.4, §5.2.2.7). */
function fieldNames(value: string): string[] {
  return splitList(value).map((name) => name.toLowerCase())
}

/**
 * Merges a `no-cache` / `private` occurrence into what was seen so far: an unqualified occurrence wins,
 * qualified ones accumulate. An empty or malformed qualifier (`no-cache=""`, `no-cache = "a"`) is read
 * as unqualified, the safer choice.
 */
function qualified(previous: boolean | readonly string[], value: Argument): boolean | readonly string[] {
  if (previous === true) return true
  const names = typeof value === 'string' ? fieldNames(value) : []
  if (names.length === 0) return true
  return previous === false ? names : [...previous, ...names]
}

/**
 * Merges a valued directive that keeps its first valid occurrence: once one is seen, later ones are
 * ignored; an invalid value (not delta-seconds, §1.2.2, or malformed, §5.2) counts as absent.
 */
function firstDelta(previous: number | undefined, value: Argument): number | undefined {
  if (previous !== undefined) return previous
  const seconds = deltaArgument(value)
  return seconds === NOT_A_DELTA ? undefined : seconds
}

/**
 * Response Cache-Control (RFC 9111 §5.2.2). A freshness directive (`max-age`, `s-maxage`) with an invalid
 * or malformed value (`max-age=3600.0`, `max-age =3600`), or repeated with different values, marks the
 * whole response `invalid`, which freshness reads as already stale. §4.2.1 leaves the choice for
 * duplicates: "either the first occurrence should be used or the response should be considered stale";
 * stale is the one that never serves longer than some sender meant. Other valued directives keep their
 * first valid occurrence; unknown ones are ignored (§5.2.3).
 */
export function parseResponseDirectives(headers: HeaderRecord): ResponseDirectives {
  let maxAge: number | undefined
  let sMaxAge: number | undefined
  let noCache: boolean | readonly string[] = false
  let noStore = false
  let isPrivate: boolean | readonly string[] = false
  let isPublic = false
  let mustRevalidate = false
  let proxyRevalidate = false
  let immutable = false
  let mustUnderstand = false
  let staleWhileRevalidate: number | undefined
  let staleIfError: number | undefined
  let invalid = false

  const freshness = (previous: number | undefined, value: Argument): number | undefined => {
    const seconds = deltaArgument(value)
    if (seconds === NOT_A_DELTA || (previous !== undefined && previous !== seconds)) {
      invalid = true
      return previous
    }
    return seconds
  }

  eachDirective(headers, (name, value) => {
    switch (name) {
      case 'max-age':
        maxAge = freshness(maxAge, value)
        break
      case 's-maxage':
        sMaxAge = freshness(sMaxAge, value)
        break
      case 'no-cache':
        noCache = qualified(noCache, value)
        break
      case 'no-store':
        noStore = true
        break
      case 'private':
        isPrivate = qualified(isPrivate, value)
        break
      case 'public':
        isPublic = true
        break
      case 'must-revalidate':
        mustRevalidate = true
        break
      case 'proxy-revalidate':
        proxyRevalidate = true
        break
      case 'immutable':
        immutable = true
        break
      case 'must-understand':
        mustUnderstand = true
        break
      case 'stale-while-revalidate':
        staleWhileRevalidate = firstDelta(staleWhileRevalidate, value)
        break
      case 'stale-if-error':
        staleIfError = firstDelta(staleIfError, value)
        break
    }
  })

  return {
    maxAge: invalid ? undefined : maxAge,
    sMaxAge: invalid ? undefined : sMaxAge,
    noCache,
    noStore,
    private: isPrivate,
    public: isPublic,
    mustRevalidate,
    proxyRevalidate,
    immutable,
    mustUnderstand,
    staleWhileRevalidate,
    staleIfError,
    invalid,
  }
}

/**
 * Request Cache-Control (RFC 9111 §5.2.1), and `Pragma: no-cache` when the request has no Cache-Control
 * field at all (§5.4). Valued directives keep their first valid occurrence; an invalid or malformed
 * (§5.2) value is ignored, which errs toward the origin's own freshness (`max-stale= 5` is not read as a
 * bare `max-stale`, which would accept any staleness).
 */
export function parseRequestDirectives(headers: HeaderRecord): RequestDirectives {
  let maxAge: number | undefined
  let maxStale: number | undefined
  let minFresh: number | undefined
  let noCache = false
  let noStore = false
  let onlyIfCached = false
  let staleIfError: number | undefined

  eachDirective(headers, (name, value) => {
    switch (name) {
      case 'max-age':
        maxAge = firstDelta(maxAge, value)
        break
      case 'max-stale':
        // §5.2.1.2: without a value the client accepts a stale response of any age.
        maxStale = value === undefined ? (maxStale ?? Infinity) : firstDelta(maxStale, value)
        break
      case 'min-fresh':
        minFresh = firstDelta(minFresh, value)
        break
      case 'no-cache':
        noCache = true
        break
      case 'no-store':
        noStore = true
        break
      case 'only-if-cached':
        onlyIfCached = true
        break
      case 'stale-if-error':
        staleIfError = firstDelta(staleIfError, value)
        break
    }
  })

  // RFC 9111 §5.4: Pragma is only a fallback for HTTP/1.0 clients that send no Cache-Control.
  if (!noCache && headers['cache-control'] === undefined) {
    const pragma = fieldValue(headers, 'pragma')
    if (pragma !== undefined && splitList(pragma).some((member) => member.toLowerCase() === 'no-cache')) noCache = true
  }

  return { maxAge, maxStale, minFresh, noCache, noStore, onlyIfCached, staleIfError }
}

/** Request directives that constrain nothing. */
export const NO_REQUEST_DIRECTIVES: RequestDirectives = Object.freeze({
  maxAge: undefined,
  maxStale: undefined,
  minFresh: undefined,
  noCache: false,
  noStore: false,
  onlyIfCached: false,
  staleIfError: undefined,
})

/** Response directives that constrain nothing. */
export const NO_RESPONSE_DIRECTIVES: ResponseDirectives = Object.freeze({
  maxAge: undefined,
  sMaxAge: undefined,
  noCache: false,
  noStore: false,
  private: false,
  public: false,
  mustRevalidate: false,
  proxyRevalidate: false,
  immutable: false,
  mustUnderstand: false,
  staleWhileRevalidate: undefined,
  staleIfError: undefined,
  invalid: false,
})

/**
 * The `cacheControl: false` gate, in one place: with it the user's expiration settings replace the
 * response's Cache-Control, Expires and Pragma (requests-cache cache_control=False), so the response's
 * directives constrain neither reuse nor the stale windows. Request directives are the caller's own
 * and are always honoured. (Whether a response may be stored at all reads the raw directives: a
 * response `no-store` is a privacy request that holds either way, see storable.ts.)
 */
export function effectiveResponseDirectives(headers: HeaderRecord, cacheControl: boolean): ResponseDirectives {
  return cacheControl ? parseResponseDirectives(headers) : NO_RESPONSE_DIRECTIVES
}
