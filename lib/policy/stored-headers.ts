/**
 * What a stored response keeps of its header fields, and what a replay adds back (RFC 9111 §3.1, §5.1).
 */
import { fieldValue, HOP_BY_HOP, splitList, type HeaderRecord, type MutableHeaderRecord } from '../headers.js'
import { MAX_DELTA_SECONDS, type ResponseDirectives } from './directives.js'

/**
 * The header fields to store: a copy without
 * - hop-by-hop fields and every field `Connection` names (RFC 9110 §7.6.1; RFC 9111 §3.1);
 * - fields named by a qualified `no-cache="…"` or `private="…"`: not storing them is the simplest way to
 *   never reuse them without validation (§5.2.2.4) or share them (§5.2.2.7);
 * - `age`, which a replay recomputes (§5.1);
 * - the names in `redact` (`ignoredParameters`), compared case-insensitively, so they never reach the store.
 */
export function headersToStore(headers: HeaderRecord, directives: ResponseDirectives, redact: ReadonlySet<string>): MutableHeaderRecord {
  const dropped = new Set<string>(['age'])
  const connection = fieldValue(headers, 'connection')
  if (connection !== undefined) for (const name of splitList(connection)) dropped.add(name.toLowerCase())
  if (Array.isArray(directives.noCache)) for (const name of directives.noCache) dropped.add(name)
  if (Array.isArray(directives.private)) for (const name of directives.private) dropped.add(name)
  for (const name of redact) dropped.add(name.toLowerCase())

  const out: MutableHeaderRecord = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || dropped.has(name)) continue
    out[name] = typeof value === 'string' ? value : [...value]
  }
  return out
}

/** A copy of the stored fields with `Age` set to the whole seconds of `age` (§5.1), capped as delta-seconds are (§1.2.2). */
export function replayHeaders(stored: HeaderRecord, age: number): MutableHeaderRecord {
  const out: MutableHeaderRecord = {}
  for (const [name, value] of Object.entries(stored)) {
    if (value === undefined) continue
    out[name] = typeof value === 'string' ? value : [...value]
  }
  const seconds = age > 0 ? Math.min(Math.floor(age), MAX_DELTA_SECONDS) : 0
  out['age'] = String(seconds)
  return out
}
