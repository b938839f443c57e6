/**
 * The admin API of the store contract (types.ts CacheStore: keys, entries, the deletes, deleteExpired,
 * and what stats() counts of the values held), written once over an AdminSource (admin-source.ts) so
 * the walk, the metadata reads and the deletion rules are not repeated per store. The targeted deletes
 * go through the source's indexes (admin-deletes.ts); the rest walk the store. Each store supplies its
 * source: RedisStore reads value prefixes with pipelined STRLEN + GETRANGE per SCAN batch
 * (redis-scan.ts), MemoryStore takes views of its own bytes. A third-party store does the same:
 * `new StoreAdmin(source, clock)` and one-line methods.
 *
 * The walks are never on the request path; the cache's RFC 9111 §4.4 invalidation calls delete(),
 * which costs what it deletes.
 */
import type { Clock } from '../clock.js'
import { staleAt, type VaryPointer } from '../entry.js'
import { sharedMethod } from '../key.js'
import { IndexedDeletes } from './admin-deletes.js'
import { decodeHead, isBodyId, METADATA_PREFIX_BYTES, primaryOf, readRecords, type AdminSource, type EntryMeta, type Scanned, type Unindexed } from './admin-source.js'
import type { DeleteOptions, EntryInfo } from './types.js'

export type { DeleteOptions, EntryInfo } from './types.js'
export type { AdminSource, HeadRead, IndexedId, IndexQuery, Unindexed, ValueHead } from './admin-source.js'
export { METADATA_PREFIX_BYTES } from './admin-source.js'

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
  readonly #deletes: IndexedDeletes

  constructor(source: AdminSource, clock: Clock) {
    this.#source = source
    this.#clock = clock
    this.#deletes = new IndexedDeletes(source, clock)
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

  /** CacheStore.delete, over the source's indexes. */
  delete(url: string | URL, options?: DeleteOptions): Promise<number> {
    return this.#deletes.delete(url, options)
  }


  /** CacheStore.deletePrefix, over the source's indexes. */
  deletePrefix(prefix: string | URL): Promise<number> {
    return this.#deletes.deletePrefix(prefix)
  }

  /** CacheStore.deleteTags, over the source's indexes. */
  deleteTags(tags: readonly string[]): Promise<number> {
    return this.#deletes.deleteTags(tags)
  }

  /** CacheStore.deleteOlderThan, over the source's indexes; the clock says when now is. */
  deleteOlderThan(seconds: number): Promise<number> {
    return this.#deletes.deleteOlderThan(seconds)
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
      // The entries going leave their URL and age indexes too, so a store kept with `ttl: false`
      // (whose index members never expire) does not keep them; their tag members go when a tag
      // delete finds them gone.
      const unindexed: Unindexed[] = []
      for (const { id, meta } of records) {
        if (meta === undefined || (meta.kind === 'entry' ? staleAt(meta) <= at : pointerExpired(meta, at))) {
          doomed.push(id)
          if (meta?.kind === 'entry') unindexed.push({ id, url: meta.url, age: true })
          if (meta?.kind === 'entry' && meta.bodyId !== undefined) doomed.push(meta.bodyId)
        } else if (id.includes('.')) variants.push(id)
      }
      const dead = new Set(doomed)
      doomed.push(...(await orphans(source, variants, dead)), ...(await orphanBodies(source, bodies.filter((id) => !dead.has(id)), at)))
      if (doomed.length > 0) await source.remove(doomed)
      if (unindexed.length > 0) await source.unindex(unindexed)
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
    if (ids.length === 0 && bodies.length === 0) continue
    yield { records: await readRecords(source, ids), bodies }
  }
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




function ownerOf(bodyId: string): string {
  return bodyId.slice(0, bodyId.indexOf('~'))
}
