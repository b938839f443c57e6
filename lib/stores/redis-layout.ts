/**
 * Redis key naming, kept pure so it is tested without a server (as node-redis tests transformArguments).
 *
 * An id is `<primary>` or `<primary>.<variant>`, both lowercase hex (from key.ts). Its key is
 * `<namespace>:{<primary>}` or `<namespace>:{<primary>}:<variant>`: the `{…}` hash tag puts every key of
 * one entry (the Vary pointer and its variants) in one Redis Cluster slot, so MGET and MULTI over them
 * stay legal on a cluster.
 *
 * A body stored apart from its entry has the id `<entry id>~<generation>` (hex) and the key of its entry
 * plus `~<generation>`: the same slot, so it commits in the entry's MULTI.
 */
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
  return `${namespace.replace(GLOB_META, (char) => `\\${char}`)}:{*`
}

/**
 * The hash holding the counters of every process sharing `namespace`, one field per
 * STORE_COUNTER_NAMES name (counters.ts). It lives inside the namespace, so clear() removes it, but
 * has no `{`, so the entry SCAN pattern never lists it and idFromKey() would refuse it anyway.
 */
export function statsKey(namespace: string): string {
  return `${namespace}:stats`
}
