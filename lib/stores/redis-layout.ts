/**
 * Redis key naming, kept pure so it is tested without a server (as node-redis tests transformArguments),
 * and clusterSlot(), the Redis Cluster slot of a key, by which the cluster driver splits commands.
 *
 * An id is `<primary>` or `<primary>.<variant>`, both lowercase hex (from key.ts). Its key is
 * `<namespace>:{<primary>}` or `<namespace>:{<primary>}:<variant>`: the `{…}` hash tag puts every key of
 * one entry (the Vary pointer and its variants) in one Redis Cluster slot, so MGET and MULTI over them
 * stay legal on a cluster.
 *
 * A body stored apart from its entry has the id `<entry id>~<generation>` (hex) and the key of its entry
 * plus `~<generation>`: the same slot, so it commits in the entry's MULTI.
 *
 * The indexes (redis-index.ts) live under `<namespace>:{` too, so the namespace's SCAN (clear()) covers
 * them, but their hash tag holds a `:` (`{o:…}`, `{t:…}`, `{a:…}`), which no id has: idFromKey() refuses
 * them, so no listing shows an index as an entry. Every key one index script touches shares a hash
 * tag (one Cluster slot):
 * - `<ns>:{o:<h(origin)>}`: the origin's URLs (ZSET, all scores 0, read by lex range for deletePrefix);
 * - `<ns>:{o:<h(origin)>}:exp`: the same URLs scored by the latest expiry of their entries;
 * - `<ns>:{o:<h(origin)>}:u:<h(url)>`: the URL's entry ids, scored by expiry;
 * - `<ns>:{t:<h(tag)>}`: the tag's entry ids, scored by expiry;
 * - `<ns>:{a:<digit>}` and `…:exp`: entry ids by their first hex digit (16 buckets, so no one key holds
 *   every entry), scored by storedAt and by expiry.
 */
import { createHash } from 'node:crypto'
import { InvalidOptionError } from '../errors.js'

const ID = /^([0-9a-f]+)(?:\.([0-9a-f]+))?(?:~([0-9a-f]+))?$/
const HEX = /^[0-9a-f]+$/
// Redis glob syntax (util.c stringmatchlen) knows `*`, `?`, `[…]` and `\` escapes; braces are literal.
const GLOB_META = /[*?[\]\\]/g
// Braces would break the hash tag, whitespace breaks redis-cli and log lines.
const NAMESPACE_FORBIDDEN = /[{}\s]/

/** Throws InvalidOptionError unless `value` can prefix keys without clashing with the hash tag. */
export function validateNamespace(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || NAMESPACE_FORBIDDEN.test(value)) {
    throw new InvalidOptionError('namespace', 'a non-empty string without `{`, `}` or whitespace', value)
  }
  return value
}

/** The key holding `id`. Throws a RangeError for an id that is not `<hex>[.<hex>][~<hex>]`. */
export function redisKey(namespace: string, id: string): string {
  const match = ID.exec(id)
  if (match === null) throw new RangeError(`malformed store id ${JSON.stringify(id.slice(0, 80))}`)
  const [, primary, variant, generation] = match
  const key = variant === undefined ? `${namespace}:{${primary}}` : `${namespace}:{${primary}}:${variant}`
  return generation === undefined ? key : `${key}~${generation}`
}

/**
 * The key of entry `id`'s fleet lock for `purpose` (redis-locks.ts): the entry's key plus `!<purpose>`,
 * so it shares the entry's hash tag (cluster slot) and, holding a `!`, is refused by idFromKey().
 */
export function lockKey(namespace: string, id: string, purpose: string): string {
  return `${redisKey(namespace, id)}!${purpose}`
}

/** True for the id of a body stored apart from its entry (raw bytes, not a record). */
export function isBodyId(id: string): boolean {
  return id.includes('~')
}

/** The id stored under `key`, or undefined when the key is not one of this namespace's entries. */
export function idFromKey(namespace: string, key: string): string | undefined {
  const prefix = `${namespace}:{`
  if (!key.startsWith(prefix)) return undefined
  const close = key.indexOf('}', prefix.length)
  if (close === -1) return undefined
  const primary = key.slice(prefix.length, close)
  if (!HEX.test(primary)) return undefined
  let rest = key.slice(close + 1)
  let generation = ''
  const tilde = rest.indexOf('~')
  if (tilde !== -1) {
    if (!HEX.test(rest.slice(tilde + 1))) return undefined
    generation = `~${rest.slice(tilde + 1)}`
    rest = rest.slice(0, tilde)
  }
  if (rest === '') return `${primary}${generation}`
  if (rest[0] !== ':') return undefined
  const variant = rest.slice(1)
  return HEX.test(variant) ? `${primary}.${variant}${generation}` : undefined
}

/**
 * The SCAN MATCH pattern for every key of `namespace`. A namespace cannot hold `{`, so
 * `<namespace>:{` never matches a longer namespace that merely starts with this one.
 */
export function scanPattern(namespace: string): string {
  return `${escapeGlob(namespace)}:{*`
}

/** `text` matched literally by a SCAN MATCH glob. */
export function escapeGlob(text: string): string {
  return text.replace(GLOB_META, (char) => `\\${char}`)
}

/** Redis Cluster's slot count (CLUSTER KEYSLOT answers 0 to 16383). */
const SLOTS = 16384
/** CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the checksum Redis Cluster hashes keys with. */
const CRC16_TABLE = Uint16Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1
  return crc & 0xffff
})

/**
 * The Redis Cluster slot of `key`, as the server computes it (cluster.c keyHashSlot): the CRC16 of its
 * hash tag, the bytes between the first `{` and the first `}` after it when there are any, else of
 * the whole key. The cluster driver groups multi-key commands by it, so none spans two slots; computed
 * here rather than through a dependency, as it is a dozen lines.
 */
export function clusterSlot(key: string): number {
  let bytes = Buffer.from(key, 'utf8')
  const open = bytes.indexOf(0x7b)
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1)
    if (close > open + 1) bytes = bytes.subarray(open + 1, close)
  }
  let crc = 0
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number)
  return crc % SLOTS
}

/**
 * The hash holding the counters of every process sharing `namespace`, one field per
 * STORE_COUNTER_NAMES name (counters.ts). It lives inside the namespace, so clear() removes it, but
 * has no `{`, so the entry SCAN pattern never lists it and idFromKey() would refuse it anyway.
 */
export function statsKey(namespace: string): string {
  return `${namespace}:stats`
}

/**
 * h() of the index keys: the first 32 hex digits (128 bits) of SHA-256, as key.ts hashes. SHA-256 has
 * no known collision attack, so nobody can choose a URL or a tag whose index is another's, and it
 * costs about a microsecond for a URL: nothing next to the round trip.
 */
export function indexHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32)
}

/**
 * The origin of a normalized URL (or URL prefix): `scheme://host[:port]`, the text up to the first `/`
 * after `//`; all of it when there is no such `/` (a prefix that is only an origin).
 */
export function originOf(url: string): string {
  const authority = url.indexOf('//')
  const slash = url.indexOf('/', authority === -1 ? 0 : authority + 2)
  return slash === -1 ? url : url.slice(0, slash)
}

/** The keys of the origin of `url`: its URLs by lex (`urls`) and by latest expiry (`expiries`). */
export function originIndexKeys(namespace: string, url: string): { readonly urls: string; readonly expiries: string } {
  const urls = `${namespace}:{o:${indexHash(originOf(url))}}`
  return { urls, expiries: `${urls}:exp` }
}

/** The key of the ids stored for `url`: in its origin's slot, so one script updates both. */
export function urlIndexKey(namespace: string, url: string): string {
  return `${originIndexKeys(namespace, url).urls}:u:${indexHash(url)}`
}

export function tagIndexKey(namespace: string, tag: string): string {
  return `${namespace}:{t:${indexHash(tag)}}`
}

/** The hex digits naming the 16 age buckets. */
export const AGE_BUCKETS: readonly string[] = [...'0123456789abcdef']

/**
 * The age bucket of entry `id`, named by its first hex digit (a digit alone names it too): ids by
 * storedAt (`stored`) and by expiry (`expiries`). Throws a RangeError when `id` starts otherwise.
 */
export function ageIndexKeys(namespace: string, id: string): { readonly stored: string; readonly expiries: string } {
  const digit = id[0] ?? ''
  if (!AGE_BUCKETS.includes(digit)) throw new RangeError(`malformed store id ${JSON.stringify(id.slice(0, 80))}`)
  const stored = `${namespace}:{a:${digit}}`
  return { stored, expiries: `${stored}:exp` }
}

/** The SCAN MATCH pattern for every index key of `namespace` (`{o:…}`, `{t:…}`, `{a:…}`). */
export function indexScanPattern(namespace: string): string {
  return `${escapeGlob(namespace)}:{[oat]:*`
}

/** What an index key of `namespace` holds (see the layout above), by its name alone. */
export type IndexKeyKind = 'origin' | 'originExpiries' | 'url' | 'tag' | 'age' | 'ageExpiries'

const INDEX_KEYS: readonly (readonly [RegExp, IndexKeyKind])[] = [
  [/^\{o:[0-9a-f]+\}$/, 'origin'],
  [/^\{o:[0-9a-f]+\}:exp$/, 'originExpiries'],
  [/^\{o:[0-9a-f]+\}:u:[0-9a-f]+$/, 'url'],
  [/^\{t:[0-9a-f]+\}$/, 'tag'],
  [/^\{a:[0-9a-f]\}$/, 'age'],
  [/^\{a:[0-9a-f]\}:exp$/, 'ageExpiries'],
]

/** The kind of index key `key` is, or undefined when it is none of `namespace`'s. */
export function indexKeyKind(namespace: string, key: string): IndexKeyKind | undefined {
  if (!key.startsWith(`${namespace}:`)) return undefined
  const name = key.slice(namespace.length + 1)
  return INDEX_KEYS.find(([pattern]) => pattern.test(name))?.[1]
}
