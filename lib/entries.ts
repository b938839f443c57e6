/**
 * Reads and writes stored records through the guarded store, and owns their layout:
 *
 * - A response without `Vary` is stored at the request's primary id.
 * - A response with `Vary` is stored at a variant id (primary id + hash of the varying request values),
 *   and a small VaryPointer at the primary id names the varying fields and lists the variants.
 *
 * Readers remember each URL's varying field names (a bounded in-process memo), so a warm read of a
 * varying URL fetches pointer and variant in one MGET: one round trip, as without Vary. The pointer is
 * read every time because it is what invalidation deletes: a variant found without its pointer is
 * treated as gone, in every process, however warm its memo.
 */
import { LRUCache } from 'lru-cache'
import { decodeRecord, encodeRecord } from './codec.js'
import { MAX_VARIANTS, type StoredEntry, type StoredRecord, type VaryPointer, type VaryValues } from './entry.js'
import { CacheError, CorruptEntryError } from './errors.js'
import type { HeaderRecord } from './headers.js'
import { hashKey, variantId, type RequestKey } from './key.js'
import { varyValues } from './policy/vary.js'
import type { GuardedStore } from './stores/guarded-store.js'
import type { StoreWrite } from './stores/types.js'
import { SingleFlight } from './single-flight.js'

export type Lookup =
  | { readonly kind: 'unavailable' }
  | { readonly kind: 'miss'; readonly pointer: VaryPointer | undefined }
  | { readonly kind: 'vary-miss'; readonly pointer: VaryPointer }
  | { readonly kind: 'entry'; readonly entry: StoredEntry; readonly id: string; readonly pointer: VaryPointer | undefined }

/** How many URLs' Vary field names one process remembers. */
const VARY_MEMO_SIZE = 10_000

const MISS: Lookup = { kind: 'miss', pointer: undefined }

export class EntryRepository {
  readonly #store: GuardedStore
  readonly #report: (error: CacheError) => void
  /** Request header names whose values are secrets: hashed before they enter a stored Vary record. */
  readonly #secretHeaders: ReadonlySet<string>
  readonly #varyMemo = new LRUCache<string, readonly string[]>({ max: VARY_MEMO_SIZE })
  /** Writes and invalidations under way, by primary id: a read in this process waits for them. */
  readonly #pending = new SingleFlight<unknown>()

  constructor(store: GuardedStore, report: (error: CacheError) => void, secretHeaders: ReadonlySet<string>) {
    this.#store = store
    this.#report = report
    this.#secretHeaders = secretHeaders
  }

  /** The values `Vary` selects from a request, with secret headers hashed (never stored in clear). */
  varyValues(names: readonly string[], headers: HeaderRecord): VaryValues {
    const values = varyValues(names, headers)
    if (this.#secretHeaders.size === 0) return values
    const out: Record<string, string | null> = {}
    for (const name of names) {
      const value = values[name] ?? null
      out[name] = value !== null && this.#secretHeaders.has(name) ? `sha256:${hashKey(value)}` : value
    }
    return out
  }

  async find(key: RequestKey, headers: HeaderRecord): Promise<Lookup> {
    const pending = this.#pending.get(key.id)
    if (pending !== undefined) await pending

    const names = this.#varyMemo.get(key.id)
    const guessed = names === undefined ? undefined : variantId(key.id, this.varyValues(names, headers))
    const values = await this.#store.get(guessed === undefined ? [key.id] : [key.id, guessed])
    if (values === undefined) return { kind: 'unavailable' }

    const primary = this.#decode(key.id, values[0])
    // A different canonical key under the same id is a hash collision: a miss, and not ours to delete.
    if (primary === undefined || primary.key !== key.canonical) return MISS
    if (primary.kind === 'entry') {
      if (names !== undefined) this.#varyMemo.delete(key.id)
      return { kind: 'entry', entry: primary, id: key.id, pointer: undefined }
    }

    this.#varyMemo.set(key.id, primary.names)
    const values2 = this.varyValues(primary.names, headers)
    const id = variantId(key.id, values2)
    let bytes: Uint8Array | undefined
    if (id === guessed) bytes = values[1]
    else {
      const second = await this.#store.get([id])
      if (second === undefined) return { kind: 'unavailable' }
      bytes = second[0]
    }
    const variant = this.#decode(id, bytes)
    if (variant === undefined || variant.kind !== 'entry' || variant.key !== key.canonical || !sameValues(variant.vary, values2)) {
      return { kind: 'vary-miss', pointer: primary }
    }
    return { kind: 'entry', entry: variant, id, pointer: primary }
  }

  /**
   * Writes an entry (and its pointer when it varies) in one atomic store call, without the caller
   * waiting; later reads in this process wait for it. `ttlMs` as in StoreWrite.
   */
  save(key: RequestKey, entry: StoredEntry, varyNames: readonly string[] | undefined, previous: VaryPointer | undefined, ttlMs: number | undefined, now: number): Promise<boolean> {
    let writes: StoreWrite[]
    try {
      writes = this.#writesFor(key, entry, varyNames, previous, ttlMs, now)
    } catch (err) {
      // encodeRecord refuses a record the decoder would reject (e.g. a header value over its bound):
      // storing it would only make a miss that never heals.
      this.#report(err instanceof CacheError ? err : new CacheError('could not encode entry', { cause: err }))
      return Promise.resolve(false)
    }
    const done = this.#store.set(writes)
    this.#pending.track(key.id, done)
    return done
  }

  #writesFor(key: RequestKey, entry: StoredEntry, varyNames: readonly string[] | undefined, previous: VaryPointer | undefined, ttlMs: number | undefined, now: number): StoreWrite[] {
    const writes: StoreWrite[] = []
    if (varyNames === undefined) {
      this.#varyMemo.delete(key.id)
      writes.push({ id: key.id, value: encodeRecord(entry), ttlMs })
    } else {
      const id = variantId(key.id, entry.vary ?? {})
      const sameNames = previous !== undefined && equalLists(previous.names, varyNames)
      const older = sameNames ? previous.variants.filter((variant) => variant !== id) : []
      const deleteAt = ttlMs === undefined ? null : now + ttlMs
      const pointer: VaryPointer = {
        kind: 'vary',
        key: key.canonical,
        names: varyNames,
        variants: [id, ...older].slice(0, MAX_VARIANTS),
        deleteAt: !sameNames ? deleteAt : previous.deleteAt === null || deleteAt === null ? null : Math.max(previous.deleteAt, deleteAt),
      }
      this.#varyMemo.set(key.id, varyNames)
      writes.push({ id, value: encodeRecord(entry), ttlMs })
      writes.push({ id: key.id, value: encodeRecord(pointer), ttlMs: pointer.deleteAt === null ? undefined : Math.max(0, pointer.deleteAt - now) })
    }
    return writes
  }

  /** Deletes what is stored at these primary ids, with every variant a pointer lists (RFC 9111 §4.4). */
  invalidate(ids: readonly string[]): Promise<void> {
    const all = Promise.all(ids.map((id) => this.#invalidateOne(id))).then(() => undefined)
    for (const id of ids) this.#pending.track(id, all)
    return all
  }

  /** Removes one stored record (a corrupt or unusable one). */
  remove(id: string): Promise<boolean> {
    return this.#store.remove([id])
  }

  async #invalidateOne(id: string): Promise<void> {
    this.#varyMemo.delete(id)
    const values = await this.#store.get([id])
    const record = values === undefined ? undefined : this.#decode(id, values[0])
    const ids = record?.kind === 'vary' ? [id, ...record.variants] : [id]
    await this.#store.remove(ids)
  }

  #decode(id: string, bytes: Uint8Array | undefined): StoredRecord | undefined {
    if (bytes === undefined) return undefined
    const record = decodeRecord(bytes)
    if (record === undefined) {
      this.#report(new CorruptEntryError(id, 'failed to decode or validate'))
      void this.#store.remove([id])
    }
    return record
  }
}

function sameValues(stored: VaryValues | undefined, current: VaryValues): boolean {
  if (stored === undefined) return false
  const names = Object.keys(current)
  if (Object.keys(stored).length !== names.length) return false
  for (const name of names) if (stored[name] !== current[name]) return false
  return true
}

function equalLists(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i])
}
