/**
 * What the admin functions (admin.ts, admin-deletes.ts) need of a store, and the one way they read
 * stored records: each value's metadata only (codec/frame.ts metadataEnd), never its body, so
 * listing or deleting from a Redis full of large bodies does not pull the bodies.
 */
import { decodeMeta, decodeRecord, metadataEnd, type RecordMeta } from '../codec/frame.js'
import { MAGIC as UNDICI_RECORD_MAGIC } from '../codec/undici-record.js'
import { bodySize, isInline, type VaryPointer } from '../entry.js'

/** A value's size and first bytes, as a store reads them for the admin API. */
export interface ValueHead {
  /** Bytes of the whole value. */
  readonly size: number
  /** The value's first bytes: as many as asked for, or the whole value when it is shorter. */
  readonly bytes: Uint8Array
}

/** A read of the first `length` bytes of the value at `id`; a length of 0 reads only its size. */
export interface HeadRead {
  readonly id: string
  readonly length: number
}

/** What the admin functions need from a store. */
export interface AdminSource {
  /** Every id held, in batches (one SCAN batch for Redis), so a caller holds one batch at a time. */
  idBatches(): AsyncIterable<readonly string[]>
  /**
   * The value head of each read; undefined where the id is gone (or not a value of ours, such as a key
   * of another type). Rejects when a read fails: a failed read taken for a missing value would have
   * its entry unindexed, or a live entry's body deleted, while the entry stays.
   */
  heads(reads: readonly HeadRead[]): Promise<(ValueHead | undefined)[]>
  /** Deletes these ids; unknown ids are ignored (CacheStore.remove). */
  remove(ids: readonly string[]): Promise<void>
  /**
   * The entry ids indexed under `query` (StoreWrite.index), in batches, never by walking the store,
   * each with the version of its index record when the source keeps one (IndexedId). Ids may be
   * dangling: their value gone (expired, evicted, deleted) or no longer an entry; the caller unindexes
   * those. `url` and `tag` yield every id indexed when the call began, each once. `before` yields the
   * ids stored before `time`, oldest first, one batch at a time: the caller unindexes every id of a
   * batch before asking for the next, which starts where the index now begins.
   */
  indexed(query: IndexQuery): AsyncIterable<readonly IndexedId[]>
  /** The URLs indexed that start with `prefix` (a normalized URL prefix), in batches, each once; never a walk of the store. */
  indexedUrls(prefix: string): AsyncIterable<readonly string[]>
  /**
   * Drops ids from the indexes: from the age index when `age`, and from its `url`'s and `tag`'s index
   * when given; an id not there is ignored. An entry with a `version` is dropped only where its record
   * is still that version, so a rewrite of the id since it was read stays indexed; without one it is
   * dropped whatever was written since. A URL left with no ids leaves the prefix index too.
   */
  unindex(entries: readonly Unindexed[]): Promise<void>
}

/** An index the deletes read: one URL's entries, one tag's, or those stored before `time` (epoch ms). */
export type IndexQuery =
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'tag'; readonly tag: string }
  | { readonly kind: 'before'; readonly time: number }

/** An id AdminSource.indexed() found. */
export interface IndexedId {
  readonly id: string
  /**
   * Which write of the id indexed it, when the source can tell: the caller hands it back to unindex()
   * (Unindexed.version). RedisStore gives the member's score, unique per write (redis-index.ts);
   * MemoryStore gives none, as its index already drops only what the store no longer holds.
   */
  readonly version?: number
}

/** An id to drop from the indexes (AdminSource.unindex). */
export interface Unindexed {
  readonly id: string
  readonly url?: string
  readonly tag?: string
  /** Whether it leaves the age index: false while the id holds an entry that stays. */
  readonly age: boolean
  /**
   * IndexedId.version as indexed() gave it: the id leaves only the index records of that write, so a
   * write of the id landing between the caller's read and this unindex keeps its records. Without it,
   * the id leaves whatever was written (deleteExpired's walk, which read no index).
   */
  readonly version?: number
}

/**
 * Bytes read first from each value. Metadata is a few hundred bytes for typical responses, so one read
 * nearly always covers it; a larger one takes a second read of exactly metadataEnd() bytes.
 */
export const METADATA_PREFIX_BYTES = 4096

/** An entry's metadata, and the id of its body when the body is stored apart (codec kind 3). */
export type EntryMeta = Extract<RecordMeta, { kind: 'entry' }> & { readonly bodyId: string | undefined }

/** A record read; `meta` is undefined when its metadata does not decode (corrupt or unknown format). */
export interface Scanned {
  readonly id: string
  readonly size: number
  readonly meta: EntryMeta | VaryPointer | undefined
}

/**
 * The records at `ids` (none of them a body id), each with its decoded metadata, in one round trip,
 * or two when some metadata is longer than the first read. Ids holding nothing are left out, and so
 * are values toUndiciCacheStore() wrote: those belong to undici's interceptor and are left to their TTL.
 */
export async function readRecords(source: AdminSource, ids: readonly string[]): Promise<Scanned[]> {
  if (ids.length === 0) return []
  const heads = await source.heads(ids.map((id) => ({ id, length: METADATA_PREFIX_BYTES })))
  // Metadata longer than the first read: read exactly up to its end, and only for those values.
  const longer: number[] = []
  for (const [index, head] of heads.entries()) {
    const end = head === undefined ? undefined : metadataEnd(head.bytes)
    if (head !== undefined && end !== undefined && end > head.bytes.length && end <= head.size) longer.push(index)
  }
  if (longer.length > 0) {
    const reads = longer.map((index) => ({ id: ids[index] as string, length: metadataEnd((heads[index] as ValueHead).bytes) as number }))
    const second = await source.heads(reads)
    longer.forEach((index, position) => {
      heads[index] = second[position]
    })
  }
  const records: Scanned[] = []
  for (const [index, head] of heads.entries()) {
    if (head !== undefined && head.bytes[0] !== UNDICI_RECORD_MAGIC) records.push({ id: ids[index] as string, size: head.size, meta: decodeHead(head) })
  }
  return records
}

/**
 * The record's metadata from its first bytes. A value that ends with its metadata (a pointer, an entry
 * whose body is stored apart, an empty body) is decoded whole, which also gives the body's id.
 */
export function decodeHead(head: ValueHead): EntryMeta | VaryPointer | undefined {
  if (metadataEnd(head.bytes) !== head.size) {
    const meta = decodeMeta(head.bytes)
    return meta?.kind === 'entry' ? { ...meta, bodyId: undefined } : meta
  }
  const record = decodeRecord(head.bytes)
  if (record?.kind !== 'entry') return record
  const { body, ...fields } = record
  return { ...fields, bodySize: bodySize(record), bodyId: isInline(body) ? undefined : body.id }
}

/** The primary id of an entry or variant id (`<primary>` or `<primary>.<variant>`). */
export function primaryOf(id: string): string {
  return id.split('.', 1)[0] as string
}

/** Body ids are `<entry id>~<generation>` (entry.ts ExternalBody). */
export function isBodyId(id: string): boolean {
  return id.includes('~')
}
