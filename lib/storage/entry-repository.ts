/**
 * The only reader and writer of stored entries: it finds the entry for a request, saves a response,
 * invalidates what a URL has stored, and opens stored bodies, all through the guarded store (so every
 * call is bounded and fail-open). Layout:
 *
 * - A response without `Vary` is stored at the request's primary id.
 * - A response with `Vary` is stored at a variant id, with a pointer at the primary id (vary-records.ts).
 * - A body over INLINE_BODY_LIMIT is stored apart, in the same atomic write (external-body.ts).
 *
 * Writes are never awaited by the caller of fetch; a later read in this process waits for a write or
 * invalidation of the same primary id still under way, so a process always reads its own writes.
 */
import type { Clock } from '../clock.js'
import { encodeRecord, tryDecodeRecord } from '../codec/frame.js'
import { isInline, type ExternalBody, type StoredEntry, type StoredRecord, type VaryPointer } from '../entry.js'
import { CacheError, CorruptEntryError } from '../errors.js'
import type { HeaderRecord } from '../headers.js'
import { variantId, type RequestKey } from '../key.js'
import { sameVaryValues } from '../policy/vary.js'
import { SingleFlight } from '../single-flight.js'
import type { GuardedStore } from '../stores/guarded-store.js'
import type { StoreWrite } from '../stores/types.js'
import { ExternalBodies, externalize, type OpenedBody } from './external-body.js'
import { VaryRecords } from './vary-records.js'

export type Lookup =
  /** The store could not be asked (down, slow, breaker open): a miss that is not the store's answer. */
  | { readonly kind: 'unavailable' }
  | { readonly kind: 'miss'; readonly pointer: VaryPointer | undefined }
  /** The URL varies, and no stored variant matches this request's values. */
  | { readonly kind: 'vary-miss'; readonly pointer: VaryPointer }
  | { readonly kind: 'entry'; readonly entry: StoredEntry; readonly id: string; readonly pointer: VaryPointer | undefined }

export type Found = Extract<Lookup, { kind: 'entry' }>

/** Where a stored entry lives: its id and, for a variant, the pointer it was found through. */
export interface EntryLocation {
  readonly id: string
  readonly pointer: VaryPointer | undefined
}

const MISS: Lookup = { kind: 'miss', pointer: undefined }
const UNAVAILABLE: Lookup = { kind: 'unavailable' }

export class EntryRepository {
  readonly #store: GuardedStore
  readonly #report: (error: CacheError) => void
  readonly #clock: Clock
  /** The store keeps values in this process: bodies stay inline and unchecked (CacheStore.inProcess). */
  readonly #inProcess: boolean
  readonly vary: VaryRecords
  readonly #bodies: ExternalBodies
  /** Writes and invalidations under way, by primary id: a read in this process waits for them. */
  readonly #pending = new SingleFlight<unknown>()

  constructor(store: GuardedStore, options: { readonly report: (error: CacheError) => void; readonly clock: Clock; readonly secretHeaders: ReadonlySet<string>; readonly digest: (value: string) => string }) {
    this.#store = store
    this.#report = options.report
    this.#clock = options.clock
    this.#inProcess = store.store.inProcess === true
    this.vary = new VaryRecords(options.secretHeaders, options.digest)
    this.#bodies = new ExternalBodies(store, options.report, options.clock)
  }

  async find(key: RequestKey, headers: HeaderRecord): Promise<Lookup> {
    const pending = this.#pending.get(key.id)
    if (pending !== undefined) await pending

    const guess = this.vary.guess(key.id, headers)
    const values = await this.#store.get(guess === undefined ? [key.id] : [key.id, guess.id])
    if (values === undefined) return UNAVAILABLE

    const primary = this.#decode(key.id, values[0])
    // A different canonical key under the same id is a hash collision: a miss, and not ours to delete.
    if (primary === undefined || primary.key !== key.canonical) return MISS
    if (primary.kind === 'entry') {
      if (guess !== undefined) this.vary.forget(key.id)
      return { kind: 'entry', entry: primary, id: key.id, pointer: undefined }
    }

    this.vary.remember(key.id, primary.names)
    const wanted = this.vary.valuesFor(primary.names, headers)
    const id = variantId(key.id, wanted)
    let bytes: Uint8Array | undefined
    if (id === guess?.id) bytes = values[1]
    else {
      const second = await this.#store.get([id])
      if (second === undefined) return UNAVAILABLE
      bytes = second[0]
    }
    const variant = this.#decode(id, bytes)
    if (variant === undefined || variant.kind !== 'entry' || variant.key !== key.canonical || !sameVaryValues(variant.vary, wanted)) {
      return { kind: 'vary-miss', pointer: primary }
    }
    return { kind: 'entry', entry: variant, id, pointer: primary }
  }

  /**
   * Writes an entry (its pointer when it varies, its body when stored apart) in one atomic store call.
   * `ttlMs` as in StoreWrite; `replaces` is the entry this one supersedes, whose external body (if
   * any) is retired once the write succeeded. Resolves to whether it was written; never rejects.
   */
  save(key: RequestKey, entry: StoredEntry, varyNames: readonly string[] | undefined, previous: VaryPointer | undefined, ttlMs: number | undefined, replaces?: StoredEntry): Promise<boolean> {
    const entryId = varyNames === undefined ? key.id : variantId(key.id, entry.vary ?? {})
    let writes: StoreWrite[]
    try {
      const { stored, body } = this.#inProcess ? { stored: entry, body: undefined } : externalize(entry, entryId)
      writes = this.#writesFor(key, entryId, stored, varyNames, previous, ttlMs)
      // The body goes first in the same atomic call; an external body kept by a 304 refresh gets its TTL reset.
      if (body !== undefined) writes.unshift({ id: body.id, value: body.value, ttlMs })
    } catch (err) {
      // encodeRecord refuses a record the decoder would reject (e.g. a header value over its bound):
      // storing it would only make a miss that never heals.
      this.#report(err instanceof CacheError ? err : new CacheError('could not encode entry', { cause: err }))
      return Promise.resolve(false)
    }
    const done = this.#store.set(writes)
    this.#pending.track(key.id, done)
    const retired = replaces !== undefined && !isInline(replaces.body) ? replaces.body.id : undefined
    if (retired !== undefined && retired !== writes[0]?.id) {
      void done.then((ok) => {
        if (ok) this.#bodies.retire(retired)
      })
    }
    return done
  }

  /**
   * An external body, opened for streaming (its first chunk read and checked); undefined when it
   * cannot be read, and the entry is then removed.
   */
  openBody(id: string, body: ExternalBody): Promise<OpenedBody | undefined> {
    return this.#bodies.open(id, body)
  }

  /** Deletes what is stored at these primary ids, with every variant a pointer lists (RFC 9111 §4.4). */
  invalidate(ids: readonly string[]): Promise<void> {
    const all = Promise.all(ids.map((id) => this.#invalidateOne(id))).then(() => undefined)
    for (const id of ids) this.#pending.track(id, all)
    return all
  }

  /** Removes one stored record (a corrupt or unusable one); tracked, so this process's next read waits for it. */
  remove(id: string): Promise<boolean> {
    const done = this.#store.remove([id])
    this.#pending.track(id, done)
    return done
  }

  #writesFor(key: RequestKey, entryId: string, entry: StoredEntry, varyNames: readonly string[] | undefined, previous: VaryPointer | undefined, ttlMs: number | undefined): StoreWrite[] {
    if (varyNames === undefined) {
      this.vary.forget(key.id)
      return [{ id: key.id, value: encodeRecord(entry), ttlMs }]
    }
    const now = this.#clock.now()
    const pointer = this.vary.pointerFor(key.canonical, key.id, entryId, varyNames, previous, ttlMs === undefined ? null : now + ttlMs)
    return [
      { id: entryId, value: encodeRecord(entry), ttlMs },
      { id: key.id, value: encodeRecord(pointer), ttlMs: pointer.deleteAt === null ? undefined : Math.max(0, pointer.deleteAt - now) },
    ]
  }

  async #invalidateOne(id: string): Promise<void> {
    this.vary.forget(id)
    const values = await this.#store.get([id])
    const record = values === undefined ? undefined : this.#decode(id, values[0])
    const ids = [id]
    if (record?.kind === 'entry' && !isInline(record.body)) ids.push(record.body.id)
    if (record?.kind === 'vary' && record.variants.length > 0) {
      ids.push(...record.variants)
      // The variants' external bodies too; a variant whose read fails leaves its body to expire.
      const variants = await this.#store.get(record.variants)
      for (const [i, bytes] of (variants ?? []).entries()) {
        const variant = this.#decode(record.variants[i]!, bytes, false)
        if (variant?.kind === 'entry' && !isInline(variant.body)) ids.push(variant.body.id)
      }
    }
    await this.#store.remove(ids)
  }

  /**
   * The record in `bytes`; undefined when there is none or it does not decode. An undecodable value is
   * reported with the reason the codec gives and, unless `removeCorrupt` is false, removed.
   */
  #decode(id: string, bytes: Uint8Array | undefined, removeCorrupt = true): StoredRecord | undefined {
    if (bytes === undefined) return undefined
    const decoded = tryDecodeRecord(bytes, { verifyBody: !this.#inProcess })
    if (decoded.ok) return decoded.value
    this.#report(new CorruptEntryError(id, decoded.reason))
    if (removeCorrupt) void this.#store.remove([id])
    return undefined
  }
}
