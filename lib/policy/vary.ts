/**
 * Vary (RFC 9111 §4.1): which request fields select among stored responses for one URL, and whether a
 * new request presents the same values as the request a stored response answered.
 */
import type { VaryValues } from '../entry.js'
import { fieldLines, fieldValue, splitList, type HeaderRecord } from '../headers.js'

export type VarySpec =
  | { readonly kind: 'none' }
  /** `*` (§4.1): the response varies on things outside the request fields, so it never matches a later request. */
  | { readonly kind: 'any' }
  | { readonly kind: 'fields'; readonly names: readonly string[] }

/**
 * Request fields whose values are case-insensitive as a whole, so lowercasing them keeps their meaning
 * and lets `GZIP, Br` share a variant with `gzip, br`: content codings (RFC 9110 §8.4.1, §12.5.3, with
 * case-insensitive parameter names and numeric q-values) and language ranges (RFC 4647 §2, RFC 9110
 * §12.5.4). Other fields keep their case: field values are case-sensitive unless their definition says
 * otherwise.
 */
const CASE_INSENSITIVE_VALUES: ReadonlySet<string> = new Set(['accept-encoding', 'accept-language'])

/** The Vary of a response: names lowercased, de-duplicated and sorted; `*` anywhere wins; no names → none. */
export function parseVary(headers: HeaderRecord): VarySpec {
  const value = fieldValue(headers, 'vary')
  if (value === undefined) return { kind: 'none' }
  const names = new Set(splitList(value).map((name) => name.toLowerCase()))
  if (names.has('*')) return { kind: 'any' }
  if (names.size === 0) return { kind: 'none' }
  return { kind: 'fields', names: [...names].sort() }
}

/** The normalised value of each named request field, null where the request lacks it. */
export function varyValues(names: readonly string[], req: HeaderRecord): VaryValues {
  // Object.fromEntries defines own properties, so a field named `__proto__` cannot touch the prototype.
  return Object.fromEntries(names.map((name) => [name, normalisedValue(req, name)]))
}

/**
 * §4.1: the stored response matches when every field it varies on has the same normalised value in the
 * new request (`current`, from varyValues over the stored names); a field absent from both matches,
 * absent from one does not, and a stored record over other names never matches. The one Vary
 * comparator: the cache compares values as the store recorded them (secret fields digested alike).
 */
export function sameVaryValues(stored: VaryValues | undefined, current: VaryValues): boolean {
  if (stored === undefined) return false
  const names = Object.keys(current)
  if (Object.keys(stored).length !== names.length) return false
  return names.every((name) => Object.hasOwn(stored, name) && stored[name] === current[name])
}

/**
 * §4.1 allows normalising values before comparing them "in a manner that is known to have identical
 * semantics": several lines are joined with ", " (RFC 9110 §5.3), the value is trimmed, and optional
 * whitespace around list commas becomes exactly ", " (RFC 9110 §5.6.1), outside quoted strings only.
 */
function normalisedValue(req: HeaderRecord, name: string): string | null {
  const lines = fieldLines(req, name)
  if (lines.length === 0) return null
  const value = normaliseListSpacing(lines.join(', '))
  return CASE_INSENSITIVE_VALUES.has(name) ? value.toLowerCase() : value
}

function normaliseListSpacing(value: string): string {
  let out = ''
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!
    if (quoted) {
      out += c
      if (c === '\\' && i + 1 < value.length) out += value[++i]!
      else if (c === '"') quoted = false
    } else if (c === ',') {
      out = out.trimEnd() + ', '
      while (i + 1 < value.length && isOws(value[i + 1]!)) i++
    } else {
      if (c === '"') quoted = true
      out += c
    }
  }
  return out.trim()
}

function isOws(c: string): boolean {
  return c === ' ' || c === '\t'
}
