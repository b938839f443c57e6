/**
 * How responses with `Vary` are filed (RFC 9111 §4.1). The response itself is stored at a variant id,
 * and a VaryPointer at the primary id names the varying fields, carries a generation and lists the
 * variants, so a reader can compute the variant id and invalidation can delete what it lists.
 *
 * The generation is what makes invalidation reach every variant (§4.4), listed or not: it is part of
 * each variant id (key.ts variantId), so a variant can only be found through a pointer of its own
 * generation. Invalidation deletes the pointer; the next pointer for the URL gets a new random
 * generation, and no id written before it is ever computed again. A writer that finds a live pointer
 * over the same field names keeps its generation, so variants written under one pointer by many
 * writers (and past the MAX_VARIANTS the list holds) stay reachable until it goes. A variant left out
 * of the list (overflow, a writer whose pointer lost a race) is not deleted by invalidation, only made
 * unreachable: it expires with its TTL or goes with `deleteExpired()`.
 *
 * Pointers written before generations have none (the legacy generation ''): their variant ids are the
 * ones they always had, and a writer adding to such a pointer keeps it legacy, so existing caches are
 * not re-keyed. Once it is invalidated, its successor gets a generation.
 *
 * Readers remember each URL's field names and generation (a bounded in-process memo), so a warm read
 * of a varying URL fetches pointer and variant in one MGET: one round trip, as without Vary. The
 * pointer is read every time because it is what invalidation deletes: a variant found without its
 * pointer, or under a pointer of another generation, is treated as gone, however warm the memo.
 */
import { randomBytes } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { MAX_VARIANTS, type StoredEntry, type VaryPointer, type VaryValues } from '../entry.js'
import type { HeaderRecord } from '../headers.js'
import { variantId } from '../key.js'
import { sameVaryValues, varyValues } from '../policy/vary.js'

/** How many URLs' Vary field names one process remembers. */
const VARY_MEMO_SIZE = 10_000

/** Random bytes of a generation: 64 bits, so a new pointer never meets an old generation by chance. */
const GENERATION_BYTES = 8

/** What the memo keeps of a URL's pointer: enough to compute a variant id without reading it first. */
type Remembered = Pick<VaryPointer, 'names' | 'generation'>

/** A new variant's id, and the pointer to write beside it. */
export interface VariantPlan {
  readonly id: string
  readonly pointer: VaryPointer
  /** The variant joins the generation of the pointer it was planned from (else a new one starts). */
  readonly joined: boolean
}

export class VaryRecords {
  /** Request header names whose values are secrets: digested before they enter a stored Vary record. */
  readonly #secretHeaders: ReadonlySet<string>
  readonly #digest: (value: string) => string
  readonly #memo = new LRUCache<string, Remembered>({ max: VARY_MEMO_SIZE })

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

  /** The id of the variant `values` select under `pointer` of `primaryId`. */
  idFor(primaryId: string, pointer: Remembered, values: VaryValues): string {
    return variantId(primaryId, values, pointer.generation ?? '')
  }

  /** The variant id this request would have if the URL still varies as last seen; undefined when unknown. */
  guess(primaryId: string, headers: HeaderRecord): { readonly id: string } | undefined {
    const seen = this.#memo.get(primaryId)
    return seen === undefined ? undefined : { id: this.idFor(primaryId, seen, this.valuesFor(seen.names, headers)) }
  }

  remember(primaryId: string, pointer: Remembered): void {
    const seen = this.#memo.get(primaryId)
    if (seen !== undefined && seen.generation === pointer.generation && equalLists(seen.names, pointer.names)) return
    // Only names and generation: a pointer's variant list would make the memo up to 32 ids per URL larger.
    this.#memo.set(primaryId, pointer.generation === undefined ? { names: pointer.names } : { names: pointer.names, generation: pointer.generation })
  }

  forget(primaryId: string): void {
    this.#memo.delete(primaryId)
  }

  /**
   * Where a new variant selected by `values` goes, and the pointer to write beside it. `base` is the
   * live pointer as last read (by the lookup, or just now): under the same field names the variant
   * joins its generation, is listed first, before the ones it lists (bounded by MAX_VARIANTS), and
   * the pointer lives as long as its longest-lived variant. Otherwise (no pointer, or other names) a
   * new generation starts. `deleteAt` is epoch ms, or null to keep it until evicted.
   */
  plan(canonicalKey: string, primaryId: string, names: readonly string[], values: VaryValues, base: VaryPointer | undefined, deleteAt: number | null): VariantPlan {
    const kept = base !== undefined && equalLists(base.names, names) ? base : undefined
    const generation = kept === undefined ? randomBytes(GENERATION_BYTES).toString('hex') : kept.generation
    const id = variantId(primaryId, values, generation ?? '')
    const older = kept === undefined ? [] : kept.variants.filter((variant) => variant !== id)
    const pointer: VaryPointer = {
      kind: 'vary',
      key: canonicalKey,
      names,
      variants: [id, ...older].slice(0, MAX_VARIANTS),
      deleteAt: kept === undefined ? deleteAt : kept.deleteAt === null || deleteAt === null ? null : Math.max(kept.deleteAt, deleteAt),
      ...(generation === undefined ? {} : { generation }),
    }
    this.remember(primaryId, pointer)
    return { id, pointer, joined: kept !== undefined }
  }
}

/** Whether two pointers are one generation over the same field names (legacy pointers: all one generation). */
export function sameGeneration(a: VaryPointer, b: VaryPointer): boolean {
  return a.generation === b.generation && equalLists(a.names, b.names)
}

function equalLists(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i])
}
