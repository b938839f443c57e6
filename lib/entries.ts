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
 *
 * A body over INLINE_BODY_LIMIT is stored apart, under `<entry id>~<generation>`, written in the same
 * atomic call as its entry and read back in BODY_CHUNK_SIZE ranges, each checked against its CRC. A
 * replaced body is removed after a grace period, so a reader still streaming it can finish.
 */
import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { LRUCache } from 'lru-cache'
import { decodeRecord, encodeRecord } from './codec.js'
import { BODY_CHUNK_SIZE, INLINE_BODY_LIMIT, isInline, MAX_VARIANTS, type ExternalBody, type StoredEntry, type StoredRecord, type VaryPointer, type VaryValues } from './entry.js'
import { EMPTY_SOURCE, inlineSource, type BodySource } from './replay.js'
import { CacheError, CorruptEntryError } from './errors.js'
import type { HeaderRecord } from './headers.js'
import { variantId, type RequestKey } from './key.js'
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
/** How long a replaced external body stays readable for replays that already started on it. */
const RETIRED_BODY_GRACE_MS = 60_000

const MISS: Lookup = { kind: 'miss', pointer: undefined }

export class EntryRepository {
  readonly #store: GuardedStore
  readonly #report: (error: CacheError) => void
  /** Request header names whose values are secrets: digested before they enter a stored Vary record. */
  readonly #secretHeaders: ReadonlySet<string>
  readonly #digest: (value: string) => string
  /** The store keeps values in this process: bodies stay inline and unchecked (CacheStore.inProcess). */
  readonly #inProcess: boolean
  readonly #varyMemo = new LRUCache<string, readonly string[]>({ max: VARY_MEMO_SIZE })
  /** Writes and invalidations under way, by primary id: a read in this process waits for them. */
  readonly #pending = new SingleFlight<unknown>()

  constructor(store: GuardedStore, report: (error: CacheError) => void, secretHeaders: ReadonlySet<string>, digest: (value: string) => string) {
    this.#store = store
    this.#report = report
    this.#secretHeaders = secretHeaders
    this.#digest = digest
    this.#inProcess = store.store.inProcess === true
  }

  /** The values `Vary` selects from a request, with secret headers hashed (never stored in clear). */
  varyValues(names: readonly string[], headers: HeaderRecord): VaryValues {
    const values = varyValues(names, headers)
    if (this.#secretHeaders.size === 0) return values
    const out: Record<string, string | null> = {}
    for (const name of names) {
      const value = values[name] ?? null
      out[name] = value !== null && this.#secretHeaders.has(name) ? this.#digest(value) : value
    }
    return out
  }

  /** True when `entry` (a response to another request) was selected by the same Vary values as `headers`. */
  matchesVary(entry: StoredEntry, headers: HeaderRecord): boolean {
    if (entry.vary === undefined) return true
    return sameValues(entry.vary, this.varyValues(Object.keys(entry.vary), headers))
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
  save(key: RequestKey, entry: StoredEntry, varyNames: readonly string[] | undefined, previous: VaryPointer | undefined, ttlMs: number | undefined, now: number, replaces?: StoredEntry): Promise<boolean> {
    let writes: StoreWrite[]
    try {
      const { stored, body } = this.#inProcess ? { stored: entry, body: undefined } : externalize(entry, key, varyNames)
      writes = this.#writesFor(key, stored, varyNames, previous, ttlMs, now)
      // The body goes first in the same atomic call; an external body kept by a 304 refresh gets its TTL reset.
      if (body !== undefined) writes.unshift(body.value === undefined ? { id: body.id, value: undefined, ttlMs } : { id: body.id, value: body.value, ttlMs })
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
        if (ok) setTimeout(() => void this.#store.remove([retired]), RETIRED_BODY_GRACE_MS).unref()
      })
    }
    return done
  }

  /**
   * The entry's body as chunks. For an external body the first chunk is read (and checked) before
   * anything is sent, so a missing or corrupt body is a miss rather than a response cut short;
   * undefined then, and the entry is removed.
   */
  async openBody(id: string, entry: StoredEntry, withBody: boolean): Promise<BodySource | undefined> {
    if (!withBody) return EMPTY_SOURCE
    const { body } = entry
    if (isInline(body)) return inlineSource(body)
    const read = (index: number): Promise<Buffer | undefined> => this.#readChunk(id, body, index)
    const first = await read(0)
    if (first === undefined) return undefined
    return { chunks: body.crcs.length, readAhead: true, read: (index) => (index === 0 ? first : read(index)) }
  }

  async #readChunk(entryId: string, body: ExternalBody, index: number): Promise<Buffer | undefined> {
    const offset = index * body.chunkSize
    const length = Math.min(body.chunkSize, body.size - offset)
    const bytes = await this.#store.getRange(body.id, offset, length)
    if (bytes !== undefined && bytes.byteLength === length && crc32(bytes) === body.crcs[index]) {
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    }
    // Missing, short or corrupt: nothing of this entry can be trusted any more.
    this.#report(new CorruptEntryError(body.id, bytes === undefined ? 'body missing or unreadable' : `chunk ${index} failed its length or checksum`))
    void this.#store.remove([entryId, body.id])
    return undefined
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
    const ids = [id]
    if (record?.kind === 'entry' && !isInline(record.body)) ids.push(record.body.id)
    if (record?.kind === 'vary' && record.variants.length > 0) {
      ids.push(...record.variants)
      // The variants' external bodies too; a variant whose read fails leaves its body to expire.
      const variants = await this.#store.get(record.variants)
      for (const [i, bytes] of (variants ?? []).entries()) {
        const variant = bytes === undefined ? undefined : decodeRecord(bytes, { verifyBody: !this.#inProcess })
        if (variant?.kind === 'entry' && !isInline(variant.body)) ids.push(variant.body.id)
        else if (variant === undefined && bytes !== undefined) this.#report(new CorruptEntryError(record.variants[i]!, 'failed to decode or validate'))
      }
    }
    await this.#store.remove(ids)
  }

  #decode(id: string, bytes: Uint8Array | undefined): StoredRecord | undefined {
    if (bytes === undefined) return undefined
    const record = decodeRecord(bytes, { verifyBody: !this.#inProcess })
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

/**
 * Moves a body over INLINE_BODY_LIMIT out of the entry: the stored entry gets a reference with one
 * CRC per chunk, and `body` is the write for the bytes. An entry whose body is already external (a 304
 * refresh) keeps its reference; its body write then only resets the TTL.
 */
function externalize(entry: StoredEntry, key: RequestKey, varyNames: readonly string[] | undefined): { stored: StoredEntry; body: { id: string; value: Uint8Array | undefined } | undefined } {
  const { body } = entry
  if (!isInline(body)) return { stored: entry, body: { id: body.id, value: undefined } }
  if (body.byteLength <= INLINE_BODY_LIMIT) return { stored: entry, body: undefined }
  const entryId = varyNames === undefined ? key.id : variantId(key.id, entry.vary ?? {})
  const id = `${entryId}~${randomBytes(8).toString('hex')}`
  const crcs: number[] = []
  for (let offset = 0; offset < body.byteLength; offset += BODY_CHUNK_SIZE) {
    crcs.push(crc32(body.subarray(offset, offset + BODY_CHUNK_SIZE)))
  }
  const ref: ExternalBody = { id, size: body.byteLength, chunkSize: BODY_CHUNK_SIZE, crcs }
  return { stored: { ...entry, body: ref }, body: { id, value: body } }
}
