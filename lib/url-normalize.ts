/**
 * The canonical form of a request URL: what the cache key holds, what an entry stores as its URL and
 * what the admin API compares. Ignored query parameters and userinfo are dropped here, so they never
 * reach storage, logs or diagnostics (DESIGN.md "Security defaults").
 *
 * Part of the key's format (key.ts): a change to this file's output re-keys every shared store, which
 * test/key.test.ts's pinned hashes catch.
 */

/**
 * Scheme and host lowercased and default port dropped (the URL parser does both, RFC 3986 §6.2.2.1,
 * §6.2.3), fragment and userinfo dropped, path escapes normalized, query normalized by normalizeQuery.
 */
export function normalizeUrl(url: URL, ignoredParams: ReadonlySet<string>): string {
  const query = normalizeQuery(new TextEncoder().encode(url.search.slice(1)), ignoredParams)
  return `${url.protocol}//${url.host}${normalizePath(url.pathname)}${query === '' ? '' : `?${query}`}`
}

/** The URL as stored for inspection: normalizeUrl's output, so ignored parameters and userinfo never reach storage. */
export function redactUrl(url: URL, ignoredParams: ReadonlySet<string>): string {
  return normalizeUrl(url, ignoredParams)
}

/**
 * application/x-www-form-urlencoded normalization, over bytes: pairs split on `&` and at the first `=`,
 * `+` read as a space (so `+` and `%20` are equal, as in requests-cache's parse_qsl/urlencode), escapes
 * decoded to bytes and every byte but the unreserved ones re-escaped as uppercase `%XX`. Working on bytes
 * rather than decoded text keeps invalid UTF-8 (`%FF` vs `%FE`) distinct. An escaped `&` or `=` stays
 * data, so `?a=1%26b%3D2` is one pair and never equals `?a=1&b=2`. Ignored names are removed; the rest
 * are sorted by name with a stable sort, so repeated names keep their order (the server may read it).
 * `a` and `a=` are equal (both an empty value), and empty pairs (`&&`) are dropped.
 */
export function normalizeQuery(bytes: Uint8Array, ignoredParams: ReadonlySet<string>): string {
  const pairs: Array<{ name: string; value: string }> = []
  const nameDecoder = new TextDecoder()
  let start = 0
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x26 /* & */) continue
    if (i > start) {
      const part = bytes.subarray(start, i)
      const eq = part.indexOf(0x3d /* = */)
      const rawName = eq === -1 ? part : part.subarray(0, eq)
      const rawValue = eq === -1 ? part.subarray(part.length) : part.subarray(eq + 1)
      const nameBytes = formDecode(rawName)
      if (!ignoredParams.has(nameDecoder.decode(nameBytes))) {
        pairs.push({ name: percentEncode(nameBytes), value: percentEncode(formDecode(rawValue)) })
      }
    }
    start = i + 1
  }
  pairs.sort((a, b) => compareCodeUnits(a.name, b.name))
  return pairs.map(({ name, value }) => `${name}=${value}`).join('&')
}

/**
 * `reference` (an absolute or relative URI reference, RFC 3986 §4.1, as a response header carries it)
 * without the query pairs whose name, form-decoded as normalizeQuery decodes it and lowercased, is in
 * `lowercasedNames`; `&`-separated pairs of the fragment are treated alike (`#api_key=…`). Everything
 * else is kept byte for byte, so a reference that names no such parameter comes back as it was; a
 * query or fragment left empty loses its `?` or `#`. For redacting URL-valued response fields before
 * they are stored (policy/stored-headers.ts): names match case-insensitively there, the safe side.
 */
export function stripQueryParams(reference: string, lowercasedNames: ReadonlySet<string>): string {
  if (lowercasedNames.size === 0) return reference
  const hash = reference.indexOf('#')
  const beforeHash = hash === -1 ? reference : reference.slice(0, hash)
  const fragment = hash === -1 ? undefined : reference.slice(hash + 1)
  const mark = beforeHash.indexOf('?')
  const query = mark === -1 ? undefined : beforeHash.slice(mark + 1)
  const keptQuery = query === undefined ? undefined : withoutPairs(query, lowercasedNames)
  const keptFragment = fragment === undefined ? undefined : withoutPairs(fragment, lowercasedNames)
  if (keptQuery === query && keptFragment === fragment) return reference
  let out = mark === -1 ? beforeHash : beforeHash.slice(0, mark)
  if (keptQuery !== undefined && keptQuery !== '') out += `?${keptQuery}`
  if (keptFragment !== undefined && keptFragment !== '') out += `#${keptFragment}`
  return out
}

/** `text` (`a=1&b=2`) without the pairs `names` lists; `text` itself when none is removed. */
function withoutPairs(text: string, names: ReadonlySet<string>): string {
  if (text === '') return text
  const pairs = text.split('&')
  const kept = pairs.filter((pair) => {
    const eq = pair.indexOf('=')
    const rawName = UTF8_ENCODER.encode(eq === -1 ? pair : pair.slice(0, eq))
    return !names.has(UTF8_DECODER.decode(formDecode(rawName)).toLowerCase())
  })
  return kept.length === pairs.length ? text : kept.join('&')
}

/** Code-unit order: deterministic everywhere, unlike localeCompare. The order of every sorted key part. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/
const UTF8_ENCODER = new TextEncoder()
const UTF8_DECODER = new TextDecoder()

/**
 * RFC 3986 §6.2.2.1-2: hex digits of escapes uppercased and escaped unreserved characters decoded. Other
 * escapes stay escaped: `%2F` is not `/`, since servers route on the raw path. The URL parser has
 * already percent-encoded non-ASCII characters and resolved dot segments, `%2e` forms included.
 */
export function normalizePath(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16))
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`
  })
}

function formDecode(raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(raw.length)
  let n = 0
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i]!
    if (byte === 0x2b /* + */) out[n++] = 0x20
    else if (byte === 0x25 /* % */ && i + 2 < raw.length && isHex(raw[i + 1]!) && isHex(raw[i + 2]!)) {
      out[n++] = (hexValue(raw[i + 1]!) << 4) | hexValue(raw[i + 2]!)
      i += 2
    } else out[n++] = byte
  }
  return out.subarray(0, n)
}

function percentEncode(bytes: Uint8Array): string {
  let out = ''
  for (const byte of bytes) {
    const char = String.fromCharCode(byte)
    out += UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

function isHex(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
}

function hexValue(byte: number): number {
  return byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x61 + 10
}
