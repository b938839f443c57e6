/**
 * How responses with `Vary` are filed (RFC 9111 §4.1). The response itself is stored at a variant id
 * (primary id + hash of the request values it varies on), and a VaryPointer at the primary id names the
 * varying fields and lists the variants, so a reader can compute the variant id and invalidation can
 * reach every variant.
 *
 * Readers remember each URL's varying field names (a bounded in-process memo), so a warm read of a
 * varying URL fetches pointer and variant in one MGET: one round trip, as without Vary. The pointer is
 * read every time because it is what invalidation deletes: a variant found without its pointer is
 * treated as gone, in every process, however warm its memo.
 */
import { LRUCache } from 'lru-cache'
import { MAX_VARIANTS, type StoredEntry, type VaryPointer, type VaryValues } from '../entry.js'
import type { HeaderRecord } from '../headers.js'
import { variantId } from '../key.js'
import { sameVaryValues, varyValues } from '../policy/vary.js'

/** How many URLs' Vary field names one process remembers. */
const VARY_MEMO_SIZE = 10_000

export class VaryRecords {
  /** Request header names whose values are secrets: digested before they enter a stored Vary record. */
  readonly #secretHeaders: ReadonlySet<string>
  readonly #digest: (value: string) => string
  readonly #memo = new LRUCache<string, readonly string[]>({ max: VARY_MEMO_SIZE })

  constructor(secretHeaders: ReadonlySet<string>, digest: (value: string) => string) {
    this.#secretHeaders = secretHeaders
    this.#digest = digest
  }

  /** The values `Vary` selects from a request, with secret headers digested (never stored in clear). */
  valuesFor(names: readonly string[], headers: HeaderRecord): VaryValues {
    const values = varyValues(names, headers)
    if (this.#secretHeaders.size === 0) return values
    const out: Record<string, string | null> = Object.create(null)
    for (const name of names) {
      const value = values[name] ?? null
      out[name] = value !== null && this.#secretHeaders.has(name) ? this.#digest(value) : value
    }
    return out
  }

  /** True when `entry` (a response to another request) was selected by the same Vary values as `headers`. */
  matches(entry: StoredEntry, headers: HeaderRecord): boolean {
    if (entry.vary === undefined) return true
    return sameVaryValues(entry.vary, this.valuesFor(Object.keys(entry.vary), headers))
  }

  /** The variant id this request would have if the URL still varies as last seen; undefined when unknown. */
  guess(primaryId: string, headers: HeaderRecord): { readonly names: readonly string[]; readonly id: string } | undefined {
    const names = this.#memo.get(primaryId)
    return names === undefined ? undefined : { names, id: variantId(primaryId, this.valuesFor(names, headers)) }
  }

  remember(primaryId: string, names: readonly string[]): void {
    this.#memo.set(primaryId, names)
  }

  forget(primaryId: string): void {
    this.#memo.delete(primaryId)
  }

  /**
   * The pointer to write beside a new variant `id` of `primaryId`: it lists the new variant first, then
   * the variants `previous` listed under the same field names (bounded by MAX_VARIANTS), and lives as
   * long as its longest-lived variant. `deleteAt` is epoch ms, or null to keep it until evicted.
   */
  pointerFor(canonicalKey: string, primaryId: string, id: string, names: readonly string[], previous: VaryPointer | undefined, deleteAt: number | null): VaryPointer {
    const sameNames = previous !== undefined && equalLists(previous.names, names)
    const older = sameNames ? previous.variants.filter((variant) => variant !== id) : []
    this.remember(primaryId, names)
    return {
      kind: 'vary',
      key: canonicalKey,
      names,
      variants: [id, ...older].slice(0, MAX_VARIANTS),
      deleteAt: !sameNames ? deleteAt : previous.deleteAt === null || deleteAt === null ? null : Math.max(previous.deleteAt, deleteAt),
    }
  }
}

function equalLists(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i])
}
