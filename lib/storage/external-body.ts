/**
 * Bodies stored apart from their entry. A body over INLINE_BODY_LIMIT goes under its own id,
 * `<entry id>~<generation>`, written in the same atomic call as its entry, and is read back in
 * BODY_CHUNK_SIZE ranges, each checked against its CRC before it reaches anyone. A replaced body is
 * removed after a grace period, so a reader still streaming it can finish.
 *
 * A timeout is not corruption: only a body that is missing, short or fails its CRC is reported
 * (CorruptEntryError) and removed with its entry. A chunk the store did not answer in time is asked
 * for again with a longer budget (CHUNK_RETRY_BUDGETS), since a response that started should finish;
 * a store that failed, was skipped by the breaker or stayed silent through the retries leaves the
 * entry alone, and the replay finishes from the origin or fails (flows/serve.ts).
 */
import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'
import type { Clock } from '../clock.js'
import { BODY_CHUNK_SIZE, INLINE_BODY_LIMIT, isInline, type ExternalBody, type StoredEntry } from '../entry.js'
import { CorruptEntryError, type CacheError } from '../errors.js'
import type { GuardedStore, RangeRead } from '../stores/guarded-store.js'

/** How long a replaced external body stays readable for replays that already started on it. */
const RETIRED_BODY_GRACE_MS = 60_000

/**
 * Budgets of the attempts at a chunk after the first, in multiples of commandTimeout: 2 and 4, so a
 * chunk of a response under way waits at most 7 commandTimeouts (1.4 s at the default 200 ms) before
 * the origin is asked for the rest. The first chunk is read once: nothing was sent yet, and the origin
 * serves a miss sooner than a silent store would.
 */
const CHUNK_RETRY_BUDGETS = [2, 4] as const

/** An external body opened for reading: its first chunk (the one it was opened at) already read and checked. */
export interface OpenedBody {
  readonly chunks: number
  readonly first: Buffer
  /**
   * Chunk `index` (after the one it was opened at), checked; undefined when it cannot be had: missing or corrupt (the entry
   * is then reported and removed), or the store failed or stayed silent through the retries (the entry stays).
   */
  read(index: number): Promise<Buffer | undefined>
}

/** The write of a body stored apart: its bytes, or undefined to only reset the TTL of one kept by a 304 refresh. */
export interface BodyWrite {
  readonly id: string
  readonly value: Uint8Array | undefined
}

/**
 * Moves a body over INLINE_BODY_LIMIT out of the entry: the stored entry gets a reference with one
 * CRC per chunk, and `body` is the write for the bytes. An entry whose body is already external (a 304
 * refresh) keeps its reference; its body write then only resets the TTL.
 */
export function externalize(entry: StoredEntry, entryId: string): { readonly stored: StoredEntry; readonly body: BodyWrite | undefined } {
  const { body } = entry
  if (!isInline(body)) return { stored: entry, body: { id: body.id, value: undefined } }
  if (body.byteLength <= INLINE_BODY_LIMIT) return { stored: entry, body: undefined }
  const id = `${entryId}~${randomBytes(8).toString('hex')}`
  const crcs: number[] = []
  for (let offset = 0; offset < body.byteLength; offset += BODY_CHUNK_SIZE) {
    crcs.push(crc32(body.subarray(offset, offset + BODY_CHUNK_SIZE)))
  }
  const ref: ExternalBody = { id, size: body.byteLength, chunkSize: BODY_CHUNK_SIZE, crcs }
  return { stored: { ...entry, body: ref }, body: { id, value: body } }
}

export class ExternalBodies {
  readonly #store: GuardedStore
  readonly #report: (error: CacheError) => void
  readonly #clock: Clock
  /** Chunks whose CRC passed already, when the store hands the same bytes out again (EntryRepository's). */
  readonly #checked: WeakSet<Uint8Array> | undefined

  constructor(store: GuardedStore, report: (error: CacheError) => void, clock: Clock, checked?: WeakSet<Uint8Array>) {
    this.#store = store
    this.#report = report
    this.#clock = clock
    this.#checked = checked
  }

  /**
   * Opens the body of the entry stored at `entryId`, reading its first chunk (or chunk `from`, for a
   * byte range); undefined when that chunk cannot be had, so an unreadable body is a miss rather than
   * a response cut short.
   */
  async open(entryId: string, body: ExternalBody, from = 0): Promise<OpenedBody | undefined> {
    // The first chunk is read once, and as the breaker allows: nothing was sent yet. The rest belong
    // to a response under way.
    const first = await this.#readChunk(entryId, body, from, [], false)
    if (first === undefined) return undefined
    return { chunks: body.crcs.length, first, read: (index) => this.#readChunk(entryId, body, index, CHUNK_RETRY_BUDGETS, true) }
  }

  /** Removes a replaced body once readers that started on it have had time to finish. */
  retire(id: string): void {
    this.#clock.setTimer(RETIRED_BODY_GRACE_MS, () => void this.#store.remove([id]))
  }

  /** `underway`: a chunk of a response already streaming, which the read breaker does not skip (GuardedStore.getRange). */
  async #readChunk(entryId: string, body: ExternalBody, index: number, retries: readonly number[], underway: boolean): Promise<Buffer | undefined> {
    const offset = index * body.chunkSize
    const length = Math.min(body.chunkSize, body.size - offset)
    let read: RangeRead = await this.#store.getRange(body.id, offset, length, this.#store.commandTimeout, underway)
    for (const factor of retries) {
      if (read.kind !== 'timeout') break
      read = await this.#store.getRange(body.id, offset, length, factor * this.#store.commandTimeout, underway)
    }
    // No answer says nothing of the entry: the guard reported it, and the entry stays.
    if (read.kind === 'timeout' || read.kind === 'unavailable') return undefined
    if (read.kind === 'bytes' && read.bytes.byteLength === length && (this.#checked?.has(read.bytes) === true || crc32(read.bytes) === body.crcs[index])) {
      this.#checked?.add(read.bytes)
      return Buffer.from(read.bytes.buffer, read.bytes.byteOffset, read.bytes.byteLength)
    }
    // Missing, short or corrupt: nothing of this entry can be trusted any more.
    this.#report(new CorruptEntryError(body.id, read.kind === 'missing' ? 'body missing' : `chunk ${index} failed its length or checksum`))
    void this.#store.remove([entryId, body.id])
    return undefined
  }
}
