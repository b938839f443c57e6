/**
 * The admin API of the store contract (types.ts CacheStore: keys, entries, delete by URL,
 * deleteExpired, and what stats() counts of the values held), written once over an AdminSource so the
 * walk, the metadata reads and the deletion rules are not repeated per store. Each store supplies its
 * source: RedisStore reads value prefixes with pipelined STRLEN + GETRANGE per SCAN batch
 * (redis-scan.ts), MemoryStore takes views of its own bytes. A third-party store does the same:
 * `new StoreAdmin(source, clock)` and four one-line methods.
 *
 * Admin calls are never on the request path. They read only each value's metadata (codec/frame.ts
 * metadataEnd), so listing a Redis full of large bodies does not pull the bodies.
 */
import type { Clock } from '../clock.js'
import { decodeMeta, decodeRecord, metadataEnd, type RecordMeta } from '../codec/frame.js'
import { MAGIC as UNDICI_RECORD_MAGIC } from '../codec/undici-record.js'
import { bodySize, isInline, staleAt, type VaryPointer } from '../entry.js'
import { InvalidOptionError } from '../errors.js'
import { normalizeUrl } from '../url-normalize.js'
import type { DeleteOptions, EntryInfo } from './types.js'

export type { DeleteOptions, EntryInfo } from './types.js'

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
  /** The value head of each read, in one round trip; undefined where the id is gone (or not a value of ours). */
  heads(reads: readonly HeadRead[]): Promise<(ValueHead | undefined)[]>
  /** Deletes these ids; unknown ids are ignored (CacheStore.remove). */
  remove(ids: readonly string[]): Promise<void>
}

/**
 * Bytes read first from each value. Metadata is a few hundred bytes for typical responses, so one read
 * nearly always covers it; a larger one takes a second read of exactly metadataEnd() bytes.
 */
export const METADATA_PREFIX_BYTES = 4096

/** An entry's metadata, and the id of its body when the body is stored apart (codec kind 3). */
type EntryMeta = Extract<RecordMeta, { kind: 'entry' }> & { readonly bodyId: string | undefined }

/** A record found by the walk; `meta` is undefined when its metadata does not decode (corrupt or unknown format). */
interface Scanned {
  readonly id: string
  readonly size: number
  readonly meta: EntryMeta | VaryPointer | undefined
}

/** One walk batch: the records, and the ids of bodies stored apart (raw bytes, never decoded). */
interface Batch {
  readonly records: readonly Scanned[]
  readonly bodies: readonly string[]
}

/**
 * The admin half of a CacheStore over `source`: a store forwards its keys(), entries(), delete() and
 * deleteExpired() here (their contract is documented on CacheStore), and its stats() adds held().
 * `clock` judges staleness.
 */
export class StoreAdmin {
  readonly #source: AdminSource
  readonly #clock: Clock

  constructor(source: AdminSource, clock: Clock) {
    this.#source = source
    this.#clock = clock
  }

  /** Ids of stored responses; vary pointers and values that do not decode are left out, as in entries(). */
  async *keys(): AsyncIterable<string> {
    for await (const { records } of scanned(this.#source)) {
      for (const value of records) if (value.meta?.kind === 'entry') yield value.id
    }
  }

  /** Every stored response (not vary pointers), skipping values that do not decode; the clock judges `stale`. */
  async *entries(): AsyncIterable<EntryInfo> {
    for await (const { records } of scanned(this.#source)) {
      const at = this.#clock.now()
      for (const value of records) {
        if (value.meta?.kind === 'entry') yield entryInfo(value.id, value.size, value.meta, at)
      }
    }
  }

  /**
   * What stats() reports of the values held. `entries` counts what entries() lists (stored responses),
   * so the CLI's `stats` and `list` agree; `bytes` counts every value, pointers, bodies stored apart
   * and undecodable values included, since they all take room.
   */
  async held(): Promise<{ entries: number; bytes: number }> {
    let entries = 0
    let bytes = 0
    for await (const { records, bodies } of scanned(this.#source)) {
      for (const { size, meta } of records) {
        bytes += size
        if (meta?.kind === 'entry') entries++
      }
      // A body is raw bytes: only its size is read (length 0, no bytes).
      if (bodies.length > 0) for (const head of await this.#source.heads(bodies.map((id) => ({ id, length: 0 })))) bytes += head?.size ?? 0
    }
    return { entries, bytes }
  }

  /**
   * Deletes every entry stored for `url` (normalized as the cache keys it) and `method`, every variant
   * included, plus the vary pointer of each deleted variant and each body stored apart. Returns how many
   * entries went (pointers and bodies not counted). The URL is matched as stored: one holding an ignored
   * parameter matches nothing. A `url` that does not parse as an absolute URL rejects with
   * InvalidOptionError naming `url`.
   */
  async delete(url: string | URL, options: DeleteOptions = {}): Promise<number> {
    if (!(url instanceof URL) && !URL.canParse(url)) throw new InvalidOptionError('url', 'an absolute URL', url)
    const target = normalizeUrl(new URL(url), new Set())
    const method = sharedMethod(options.method ?? 'GET')
    let deleted = 0
    for await (const { records } of scanned(this.#source)) {
      const ids = new Set<string>()
      for (const { id, meta } of records) {
        if (meta?.kind !== 'entry' || meta.url !== target || sharedMethod(meta.method) !== method) continue
        ids.add(id)
        deleted++
        if (meta.bodyId !== undefined) ids.add(meta.bodyId)
        // Every variant of a primary shares its canonical key, so the pointer serves only this URL.
        if (id.includes('.')) ids.add(primaryOf(id))
      }
      if (ids.size > 0) await this.#source.remove([...ids])
    }
    return deleted
  }

  /**
   * Deletes what can no longer be served fresh at the clock's now: stale entries (giving up their
   * conditional revalidation and `staleIfError`) with their bodies, vary pointers past their
   * `deleteAt`, variants whose pointer is gone (unreachable, since a read goes through the pointer),
   * bodies no live entry refers to, and values that do not decode. Returns how many values went.
   */
  async deleteExpired(): Promise<number> {
    const source = this.#source
    let deleted = 0
    for await (const { records, bodies } of scanned(source)) {
      const at = this.#clock.now()
      const doomed: string[] = []
      const variants: string[] = []
      for (const { id, meta } of records) {
        if (meta === undefined || (meta.kind === 'entry' ? staleAt(meta) <= at : pointerExpired(meta, at))) {
          doomed.push(id)
          if (meta?.kind === 'entry' && meta.bodyId !== undefined) doomed.push(meta.bodyId)
        } else if (id.includes('.')) variants.push(id)
      }
      const dead = new Set(doomed)
      doomed.push(...(await orphans(source, variants, dead)), ...(await orphanBodies(source, bodies.filter((id) => !dead.has(id)), at)))
      if (doomed.length > 0) await source.remove(doomed)
      deleted += doomed.length
    }
    return deleted
  }
}

/** The walk under every admin function: each batch of ids with its records' decoded metadata. */
async function* scanned(source: AdminSource): AsyncIterable<Batch> {
  for await (const batch of source.idBatches()) {
    const bodies = batch.filter(isBodyId)
    const ids = bodies.length === 0 ? batch : batch.filter((id) => !isBodyId(id))
    if (ids.length === 0) {
      if (bodies.length > 0) yield { records: [], bodies }
      continue
    }
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
      // Values toUndiciCacheStore() wrote belong to undici's interceptor: not listed, and left to their TTL.
      if (head !== undefined && head.bytes[0] !== UNDICI_RECORD_MAGIC) records.push({ id: ids[index] as string, size: head.size, meta: decodeHead(head) })
    }
    yield { records, bodies }
  }
}

/**
 * The record's metadata from its first bytes. A value that ends with its metadata (a pointer, an entry
 * whose body is stored apart, an empty body) is decoded whole, which also gives the body's id.
 */
function decodeHead(head: ValueHead): EntryMeta | VaryPointer | undefined {
  if (metadataEnd(head.bytes) !== head.size) {
    const meta = decodeMeta(head.bytes)
    return meta?.kind === 'entry' ? { ...meta, bodyId: undefined } : meta
  }
  const record = decodeRecord(head.bytes)
  if (record?.kind !== 'entry') return record
  const { body, ...fields } = record
  return { ...fields, bodySize: bodySize(record), bodyId: isInline(body) ? undefined : body.id }
}

/** Bodies stored apart whose entry is gone, stale, unreadable or refers to another body (an older write's). */
async function orphanBodies(source: AdminSource, bodies: readonly string[], now: number): Promise<string[]> {
  if (bodies.length === 0) return []
  const owners = [...new Set(bodies.map(ownerOf))]
  const heads = await source.heads(owners.map((id) => ({ id, length: METADATA_PREFIX_BYTES })))
  const live = new Set<string>()
  owners.forEach((_, index) => {
    const head = heads[index]
    const meta = head === undefined ? undefined : decodeHead(head)
    if (meta?.kind === 'entry' && meta.bodyId !== undefined && staleAt(meta) > now) live.add(meta.bodyId)
  })
  return bodies.filter((id) => !live.has(id))
}

/** Which of these variant ids have no vary pointer at their primary id (or one about to be deleted). */
async function orphans(source: AdminSource, variants: readonly string[], doomed: ReadonlySet<string>): Promise<string[]> {
  if (variants.length === 0) return []
  const primaries = [...new Set(variants.map(primaryOf))].filter((id) => !doomed.has(id))
  // A pointer carries no body, so the prefix read holds all of it but for a pathological one.
  const heads = await source.heads(primaries.map((id) => ({ id, length: METADATA_PREFIX_BYTES })))
  const pointed = new Set(primaries.filter((_, index) => {
    const head = heads[index]
    return head !== undefined && decodeHead(head)?.kind === 'vary'
  }))
  return variants.filter((id) => !pointed.has(primaryOf(id)))
}

function entryInfo(id: string, size: number, meta: EntryMeta, now: number): EntryInfo {
  const expires = staleAt(meta)
  return {
    id,
    url: meta.url,
    method: sharedMethod(meta.method),
    status: meta.status,
    size: size + (meta.bodyId === undefined ? 0 : meta.bodySize),
    bodySize: meta.bodySize,
    storedAt: new Date(meta.responseTime),
    expiresAt: Number.isFinite(expires) ? new Date(expires) : null,
    // RFC 9111 §4.2: fresh while age < lifetime, so the instant it reaches staleAt it is stale.
    stale: expires <= now,
    varies: Object.keys(meta.vary ?? {}).sort(),
  }
}

function pointerExpired(pointer: VaryPointer, now: number): boolean {
  return pointer.deleteAt !== null && pointer.deleteAt < now
}

/** RFC 9110 §9.3.2: HEAD is GET without the content, and the cache keys both as GET. */
function sharedMethod(method: string): string {
  const upper = method.toUpperCase()
  return upper === 'HEAD' ? 'GET' : upper
}

function primaryOf(id: string): string {
  return id.split('.', 1)[0] as string
}

/** Body ids are `<entry id>~<generation>` (entry.ts ExternalBody). */
function isBodyId(id: string): boolean {
  return id.includes('~')
}

function ownerOf(bodyId: string): string {
  return bodyId.slice(0, bodyId.indexOf('~'))
}
