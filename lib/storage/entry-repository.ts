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
 * invalidation of the same primary id still under way, so a process always reads its own writes, and
 * a Vary write or an invalidation waits for the ones before it, so they apply in the order issued.
 */
import { LRUCache } from 'lru-cache'
import type { Clock } from '../clock.js'
import { encodeRecord, tryDecodeRecord } from '../codec/frame.js'
import { isInline, type ExternalBody, type StoredEntry, type StoredRecord, type VaryPointer } from '../entry.js'
import { CacheError, CorruptEntryError } from '../errors.js'
import type { HeaderRecord } from '../headers.js'
import { partialId, type RequestKey } from '../key.js'
import { sameVaryValues } from '../policy/vary.js'
import { SingleFlight } from '../single-flight.js'
import type { GuardedStore } from '../stores/guarded-store.js'
import type { StoreWrite } from '../stores/types.js'
import { ExternalBodies, externalize, type OpenedBody } from './external-body.js'
import { sameGeneration, VaryRecords } from './vary-records.js'

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
const UNREADABLE = Symbol('unreadable')
const UNAVAILABLE: Lookup = { kind: 'unavailable' }

/**
 * What invalidating a URL deletes (RFC 9111 §4.4): its GET entries (HEAD shares them), in every variant
 * and partition. POST responses cached by body (`methods` holding POST) are not the target's
 * representation, and stay.
 */
const URL_INVALIDATION = { method: 'GET' } as const

/** How many invalidated ids one process remembers, to refuse the in-flight responses they made obsolete. */
const INVALIDATIONS_REMEMBERED = 10_000

export class EntryRepository {
  readonly #store: GuardedStore
  readonly #report: (error: CacheError) => void
  readonly #clock: Clock
  /** The store keeps values in this process: bodies stay inline and unchecked (CacheStore.inProcess). */
  readonly #inProcess: boolean
  /**
   * Values whose checksums passed already, when the store may hand the same bytes out again
   * (CacheStore.sharesValues): they are not checked again. Weak, so it holds none of them.
   */
  readonly #checked: WeakSet<Uint8Array> | undefined
  readonly vary: VaryRecords
  readonly #bodies: ExternalBodies
  /** Writes and invalidations under way, by primary id: a read in this process waits for them. */
  readonly #pending = new SingleFlight<unknown>()
  /**
   * When this process last invalidated each primary id and each stored URL (bounded; the oldest go
   * first; an id is hex and a URL holds `:`, so they never collide): a response whose request left
   * before then is neither stored nor, should its removal have failed, served. Other processes'
   * invalidations are not seen here (TODO #16).
   */
  readonly #invalidatedAt = new LRUCache<string, number>({ max: INVALIDATIONS_REMEMBERED })

  constructor(store: GuardedStore, options: { readonly report: (error: CacheError) => void; readonly clock: Clock; readonly secretHeaders: ReadonlySet<string>; readonly digest: (value: string) => string }) {
    this.#store = store
    this.#report = options.report
    this.#clock = options.clock
    this.#inProcess = store.store.inProcess === true
    this.#checked = store.store.sharesValues === true ? new WeakSet() : undefined
    this.vary = new VaryRecords(options.secretHeaders, options.digest)
    this.#bodies = new ExternalBodies(store, options.report, options.clock, this.#checked)
  }

  async find(key: RequestKey, headers: HeaderRecord): Promise<Lookup> {
    // This process's own write or invalidation of the URL goes first, so it reads what it wrote; but
    // for one command timeout at most, since a chain of them may take several.
    const pending = this.#pending.get(key.id)
    if (pending !== undefined) await this.#atMostOneTimeout(pending)

    const guess = this.vary.guess(key.id, headers)
    const values = await this.#store.get(guess === undefined ? [key.id] : [key.id, guess.id])
    if (values === undefined) return UNAVAILABLE

    const primary = this.#decode(key.id, values[0])
    // A different canonical key under the same id is a hash collision: a miss, and not ours to delete.
    if (primary === undefined || primary.key !== key.canonical) return MISS
    if (primary.kind === 'entry') {
      if (guess !== undefined) this.vary.forget(key.id)
      if (this.#obsolete(key.id, primary)) return MISS
      return { kind: 'entry', entry: primary, id: key.id, pointer: undefined }
    }

    this.vary.remember(key.id, primary)
    const wanted = this.vary.valuesFor(primary.names, headers)
    const id = this.vary.idFor(key.id, primary, wanted)
    let bytes: Uint8Array | undefined
    if (id === guess?.id) bytes = values[1]
    else {
      const second = await this.#store.get([id])
      if (second === undefined) return UNAVAILABLE
      bytes = second[0]
    }
    const variant = this.#decode(id, bytes)
    if (variant === undefined || variant.kind !== 'entry' || variant.key !== key.canonical || !sameVaryValues(variant.vary, wanted) || this.#obsolete(key.id, variant)) {
      return { kind: 'vary-miss', pointer: primary }
    }
    return { kind: 'entry', entry: variant, id, pointer: primary }
  }

  /** Waits for `work`, or for one command timeout, whichever comes first; never rejects. */
  #atMostOneTimeout(work: Promise<unknown>): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.#clock.setTimer(this.#store.commandTimeout, resolve)
      work.then(
        () => (cancel(), resolve()),
        () => (cancel(), resolve()),
      )
    })
  }

  /**
   * An entry whose request left before this process invalidated its URL (RFC 9111 §4.4): still in the
   * store only because the removal failed (Redis was away or the breaker open), and never served.
   */
  #obsolete(primaryId: string, entry: StoredEntry): boolean {
    const byUrl = entry.method === URL_INVALIDATION.method ? (this.#invalidatedAt.get(entry.url) ?? -Infinity) : -Infinity
    return Math.max(this.#invalidatedAt.get(primaryId) ?? -Infinity, byUrl) > entry.requestTime
  }

  /**
   * Writes an entry (its pointer when it varies, its body when stored apart) in one atomic store call.
   * `ttlMs` as in StoreWrite; `previous` is the Vary pointer the lookup found; `replaces` is the entry
   * this one supersedes, whose external body (if any) is retired once the write succeeded. Resolves to
   * whether it was written; never rejects.
   */
  save(key: RequestKey, entry: StoredEntry, varyNames: readonly string[] | undefined, previous: VaryPointer | undefined, ttlMs: number | undefined, replaces?: StoredEntry, tags: readonly string[] = []): Promise<boolean> {
    // RFC 9111 §4.4: a response whose request left before this process invalidated the URL may show
    // what the write made obsolete; storing it would undo the invalidation.
    if (this.#obsolete(key.id, entry)) return Promise.resolve(false)
    const write: EntryWrite = { entry, ttlMs, replaces, tags }
    const done =
      varyNames === undefined
        ? this.#commit(key.id, write, () => {
            this.vary.forget(key.id)
            return []
          })
        : this.#saveVariant(key, write, varyNames, previous, this.#pending.get(key.id))
    this.#pending.track(key.id, done)
    return done
  }

  /**
   * An external body, opened for streaming from chunk `from` (read and checked); undefined when it
   * cannot be read, and the entry is then removed.
   */
  openBody(id: string, body: ExternalBody, from = 0): Promise<OpenedBody | undefined> {
    return this.#bodies.open(id, body, from)
  }

  /**
   * Deletes what is stored at these primary ids, with every variant a pointer lists and the partial
   * responses stored beside them (key.ts partialKey), and, through the store's URL index, every entry
   * stored for `urls` (as entries store them, url-normalize.ts) for GET in any variant or partition:
   * `matchHeaders`, a custom `key`, other users' credentials (RFC 9111 §4.4). The ids are the ones this
   * process can compute itself; they also reach entries written before stores kept a URL index.
   */
  invalidate(ids: readonly string[], urls: readonly string[] = []): Promise<void> {
    const now = this.#clock.now()
    for (const id of ids) {
      this.#invalidatedAt.set(id, now)
      this.#invalidatedAt.set(partialId(id), now)
    }
    for (const url of urls) this.#invalidatedAt.set(url, now)
    const byUrl = urls.length === 0 ? undefined : this.#store.deleteUrls(urls, URL_INVALIDATION)
    const all = Promise.all([...ids.map((id) => this.#invalidateOne(id, this.#pending.get(id))), byUrl]).then(() => undefined)
    for (const id of ids) {
      this.#pending.track(id, all)
      this.#pending.track(partialId(id), all)
    }
    return all
  }

  /** Removes one stored record (a corrupt or unusable one); tracked, so this process's next read waits for it. */
  remove(id: string): Promise<boolean> {
    const done = this.#store.remove([id])
    this.#pending.track(id, done)
    return done
  }

  /**
   * A response with Vary, filed under the pointer `previous` its lookup found (vary-records.ts plan).
   * A new generation is written with its pointer in one atomic write. A variant that joins the
   * lookup's generation is written alone, so it is reachable at once under the stored pointer, and the
   * pointer is then updated only if it still has that generation: one invalidated (or expired) while
   * this response was on its way is never written again, and the variant stays unreachable, since the
   * response may predate the invalidation (RFC 9111 §4.4).
   *
   * `earlier` is a write or invalidation of this URL by this process still under way (a collapsed
   * request's leader, say): this one waits for it and is filed under the pointer it leaves, so two
   * first requests for different variants join one generation instead of orphaning one of them.
   */
  async #saveVariant(key: RequestKey, write: EntryWrite, names: readonly string[], previous: VaryPointer | undefined, earlier: Promise<unknown> | undefined): Promise<boolean> {
    const { entry, ttlMs } = write
    let base = previous
    let fresh = false
    if (earlier !== undefined) {
      await earlier
      const current = await this.#currentPointer(key)
      if (current !== UNREADABLE) {
        if (previous !== undefined && (current === undefined || !sameGeneration(previous, current))) return false
        base = current
        fresh = true
      }
    }
    const now = this.#clock.now()
    const deleteAt = ttlMs === undefined ? null : now + ttlMs
    const { id, pointer, joined } = this.vary.plan(key.canonical, key.id, names, entry.vary ?? {}, base, deleteAt)
    if (!joined || fresh || base === undefined) return this.#commit(id, write, () => [pointerWrite(key.id, pointer, now)])
    const written = await this.#commit(id, write, () => [])
    // Listed already, and living no longer than the pointer: nothing to update.
    if (!written || (base.variants.includes(id) && pointer.deleteAt === base.deleteAt)) return written
    const current = await this.#currentPointer(key)
    if (current === UNREADABLE || current === undefined || !sameGeneration(current, base)) return written
    const update = this.vary.plan(key.canonical, key.id, names, entry.vary ?? {}, current, deleteAt).pointer
    try {
      await this.#store.set([pointerWrite(key.id, update, this.#clock.now())])
    } catch (err) {
      this.#report(err instanceof CacheError ? err : new CacheError('could not encode vary pointer', { cause: err }))
    }
    return written
  }

  /** The Vary pointer stored for `key` now; undefined when there is none, UNREADABLE when the store cannot say. */
  async #currentPointer(key: RequestKey): Promise<VaryPointer | undefined | typeof UNREADABLE> {
    const values = await this.#store.get([key.id])
    if (values === undefined) return UNREADABLE
    const record = this.#decode(key.id, values[0])
    return record?.kind === 'vary' && record.key === key.canonical ? record : undefined
  }

  /**
   * Writes the entry at `entryId` with the writes `more` returns (its pointer), and its body first when
   * stored apart, in one atomic store call, indexed under its URL, tags and time (StoreWrite.index);
   * then retires the external body of the entry it replaces.
   */
  #commit(entryId: string, { entry, ttlMs, replaces, tags }: EntryWrite, more: () => StoreWrite[]): Promise<boolean> {
    let writes: StoreWrite[]
    try {
      const { stored, body } = this.#inProcess ? { stored: entry, body: undefined } : externalize(entry, entryId)
      const index = { url: entry.url, tags, storedAt: entry.responseTime }
      writes = [{ id: entryId, value: encodeRecord(stored), ttlMs, index }, ...more()]
      // The body goes first in the same atomic call; an external body kept by a 304 refresh gets its TTL reset.
      if (body !== undefined) writes.unshift({ id: body.id, value: body.value, ttlMs })
    } catch (err) {
      // encodeRecord refuses a record the decoder would reject (e.g. a header value over its bound):
      // storing it would only make a miss that never heals.
      this.#report(err instanceof CacheError ? err : new CacheError('could not encode entry', { cause: err }))
      return Promise.resolve(false)
    }
    const done = this.#store.set(writes)
    const retired = replaces !== undefined && !isInline(replaces.body) ? replaces.body.id : undefined
    if (retired !== undefined && retired !== writes[0]?.id) {
      void done.then((ok) => {
        if (ok) this.#bodies.retire(retired)
      })
    }
    return done
  }

  /** After `earlier` (a write or invalidation of `id` under way in this process), so it cannot land after this. */
  async #invalidateOne(id: string, earlier: Promise<unknown> | undefined): Promise<void> {
    if (earlier !== undefined) await earlier
    const roots = [id, partialId(id)]
    for (const root of roots) this.vary.forget(root)
    // One read per root: the partial slot has a hash tag of its own, and a multi-key read must stay in
    // one Redis Cluster slot (a root's variants and bodies share its tag).
    const found = await Promise.all(roots.map(async (root) => this.#rootRecords(root)))
    await this.#store.remove([...roots, ...found.flat()])
  }

  /** The ids hanging off `root` that go with it: its external body, or its variants and theirs. */
  async #rootRecords(root: string): Promise<string[]> {
    const values = await this.#store.get([root])
    const record = values === undefined ? undefined : this.#decode(root, values[0])
    if (record?.kind === 'entry') return isInline(record.body) ? [] : [record.body.id]
    if (record?.kind !== 'vary' || record.variants.length === 0) return []
    const ids = [...record.variants]
    // The variants' external bodies too; a variant whose read fails leaves its body to expire.
    const variants = await this.#store.get(record.variants)
    for (const [i, bytes] of (variants ?? []).entries()) {
      const variant = this.#decode(record.variants[i]!, bytes, false)
      if (variant?.kind === 'entry' && !isInline(variant.body)) ids.push(variant.body.id)
    }
    return ids
  }

  /**
   * The record in `bytes`; undefined when there is none or it does not decode. An undecodable value is
   * reported with the reason the codec gives and, unless `removeCorrupt` is false, removed.
   */
  #decode(id: string, bytes: Uint8Array | undefined, removeCorrupt = true): StoredRecord | undefined {
    if (bytes === undefined) return undefined
    const verifyBody = !this.#inProcess && this.#checked?.has(bytes) !== true
    const decoded = tryDecodeRecord(bytes, { verifyBody })
    if (decoded.ok) {
      if (verifyBody) this.#checked?.add(bytes)
      return decoded.value
    }
    this.#report(new CorruptEntryError(id, decoded.reason))
    if (removeCorrupt) void this.#store.remove([id])
    return undefined
  }
}

/** One entry to save, as save() was given it. */
interface EntryWrite {
  readonly entry: StoredEntry
  readonly ttlMs: number | undefined
  readonly replaces: StoredEntry | undefined
  readonly tags: readonly string[]
}

/** The write of `pointer` at `id`, living until its `deleteAt`. */
function pointerWrite(id: string, pointer: VaryPointer, now: number): StoreWrite {
  return { id, value: encodeRecord(pointer), ttlMs: pointer.deleteAt === null ? undefined : Math.max(0, pointer.deleteAt - now) }
}
