/**
 * MemoryStore's indexes of the entries it holds (StoreWrite.index): ids by URL, by tag and by age, so
 * the targeted deletes (admin-deletes.ts) find entries without walking the LRU. The store keeps them in
 * step with its values: set() records an entry written with `index`, and lru-cache's `dispose` drops
 * the record of every value lru-cache lets go (deleted, replaced, evicted, expired, cleared). So the
 * index holds a record only for an id whose value the LRU still holds, and its memory is bounded by
 * what the LRU holds.
 */
import type { IndexedId, IndexQuery } from './admin-source.js'
import type { IndexFields } from './types.js'

/**
 * One indexed entry. A new object for every write, so the age list can tell the current record of an
 * id from one that a later write or a drop has replaced.
 */
interface IndexRecord {
  readonly id: string
  readonly url: string
  readonly tags: ReadonlySet<string>
  readonly storedAt: number
}

/** How much the index holds, for tests that check it stays within what the LRU holds. */
export interface IndexSizes {
  /** Ids indexed: at most one per value the LRU holds. */
  readonly records: number
  /** Distinct URLs indexed. */
  readonly urls: number
  /** Distinct tags indexed. */
  readonly tags: number
  /** Slots of the age list, current or left by dropped records: at most twice the records plus AGE_SLACK. */
  readonly ageSlots: number
}

/** What MemoryStore shows of its index, read-only, for tests of its bookkeeping. */
/** The key of MemoryStore's read-only index view: not part of the package's exports, for its tests. */
export const INDEX_VIEW = Symbol('MemoryStore index view')

export interface IndexView {
  /** What is indexed for `id`, or undefined when nothing is. */
  fields(id: string): IndexFields | undefined
  readonly sizes: IndexSizes
}

/**
 * Slots of dropped records the age list may hold beyond the current ones before it is compacted, so a
 * small index is not rebuilt on every drop.
 */
const AGE_SLACK = 64

export class MemoryIndex implements IndexView {
  /** Ids per batch handed to the deletes. */
  readonly #batchSize: number
  readonly #records = new Map<string, IndexRecord>()
  readonly #byUrl = new Map<string, Set<string>>()
  readonly #byTag = new Map<string, Set<string>>()
  /**
   * Records by storedAt, oldest first, ties in write order. A drop leaves its record's slot behind
   * rather than splicing it out, since eviction drops the oldest values and would shift the whole list
   * each time; such slots are skipped, cut off the front as `before` walks past them, and compacted away
   * once they outnumber the current records.
   */
  #age: IndexRecord[] = []
  /** Every slot before this one holds a dropped record. */
  #start = 0

  constructor(batchSize: number) {
    this.#batchSize = batchSize
  }

  /** Indexes `id` under `fields`, replacing what it was indexed under before. */
  record(id: string, fields: IndexFields): void {
    this.drop(id)
    const record: IndexRecord = { id, url: fields.url, tags: new Set(fields.tags), storedAt: fields.storedAt }
    this.#records.set(id, record)
    member(this.#byUrl, record.url).add(id)
    for (const tag of record.tags) member(this.#byTag, tag).add(id)
    this.#insertByAge(record)
  }

  /** Drops `id` from every index; nothing happens when it is not indexed. */
  drop(id: string): void {
    const record = this.#records.get(id)
    if (record === undefined) return
    this.#records.delete(id)
    leave(this.#byUrl, record.url, id)
    for (const tag of record.tags) leave(this.#byTag, tag, id)
    if (this.#age.length > 2 * this.#records.size + AGE_SLACK) this.#compact()
  }

  clear(): void {
    this.#records.clear()
    this.#byUrl.clear()
    this.#byTag.clear()
    this.#age = []
    this.#start = 0
  }

  fields(id: string): IndexFields | undefined {
    const record = this.#records.get(id)
    return record === undefined ? undefined : { url: record.url, tags: [...record.tags], storedAt: record.storedAt }
  }

  get sizes(): IndexSizes {
    return { records: this.#records.size, urls: this.#byUrl.size, tags: this.#byTag.size, ageSlots: this.#age.length }
  }

  /**
   * AdminSource.indexed. `url` and `tag` copy the ids when called, so the caller's deletes, and writes
   * landing between batches, do not disturb the batches still to come. No version: MemoryStore's
   * unindex drops only ids whose value is gone, so a rewrite is never unindexed anyway.
   */
  indexed(query: IndexQuery): AsyncIterable<readonly IndexedId[]> {
    switch (query.kind) {
      case 'url':
        return batches([...(this.#byUrl.get(query.url) ?? [])].map(indexedId), this.#batchSize)
      case 'tag':
        return batches([...(this.#byTag.get(query.tag) ?? [])].map(indexedId), this.#batchSize)
      case 'before':
        return this.#before(query.time)
    }
  }

  /**
   * AdminSource.indexedUrls, copied when called. A filter over every URL indexed: in process that costs
   * microseconds per thousand URLs, where keeping a sorted copy would cost every write.
   */
  urls(prefix: string): AsyncIterable<readonly string[]> {
    return batches([...this.#byUrl.keys()].filter((url) => url.startsWith(prefix)), this.#batchSize)
  }

  /**
   * Each batch starts from the oldest record now indexed, so an entry written meanwhile with an older
   * storedAt is still found. What was yielded is remembered, so a caller that leaves some ids indexed
   * (it kept their entries) is not handed them again and the walk still ends.
   */
  async *#before(time: number): AsyncIterable<readonly IndexedId[]> {
    const yielded = new Set<IndexRecord>()
    for (;;) {
      const batch = this.#oldest(time, yielded)
      if (batch.length === 0) return
      yield batch.map(indexedId)
    }
  }

  /** Up to a batch of ids stored before `time` and not in `yielded`, oldest first; adds them to `yielded`. */
  #oldest(time: number, yielded: Set<IndexRecord>): string[] {
    const age = this.#age
    // A deleteOlderThan drops the records it was handed, which are the oldest: cutting their slots off
    // for good keeps each batch from stepping again over everything deleted before it.
    while (this.#start < age.length && !this.#current(age[this.#start] as IndexRecord)) this.#start++
    const batch: string[] = []
    for (let index = this.#start; index < age.length && batch.length < this.#batchSize; index++) {
      const record = age[index] as IndexRecord
      if (record.storedAt >= time) break
      if (!this.#current(record) || yielded.has(record)) continue
      yielded.add(record)
      batch.push(record.id)
    }
    return batch
  }

  /**
   * Responses are mostly written in the order they arrive, so a new record nearly always goes at the
   * end; one that arrived earlier than the last written is placed by binary search.
   */
  #insertByAge(record: IndexRecord): void {
    const age = this.#age
    const last = age[age.length - 1]
    if (last === undefined || last.storedAt <= record.storedAt) {
      age.push(record)
      return
    }
    let low = this.#start
    let high = age.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if ((age[middle] as IndexRecord).storedAt <= record.storedAt) low = middle + 1
      else high = middle
    }
    age.splice(low, 0, record)
  }

  /** Keeps only the current records' slots; runs once they are outnumbered, so it costs O(1) per drop over time. */
  #compact(): void {
    this.#age = this.#age.filter((record) => this.#current(record))
    this.#start = 0
  }

  #current(record: IndexRecord): boolean {
    return this.#records.get(record.id) === record
  }
}

/** The set of ids under `key`, made when missing. */
function member(index: Map<string, Set<string>>, key: string): Set<string> {
  let ids = index.get(key)
  if (ids === undefined) index.set(key, (ids = new Set()))
  return ids
}

/** Removes `id` from the set under `key`, and the key with its last id, so dropped URLs and tags take no room. */
function leave(index: Map<string, Set<string>>, key: string, id: string): void {
  const ids = index.get(key)
  if (ids === undefined) return
  ids.delete(id)
  if (ids.size === 0) index.delete(key)
}

function indexedId(id: string): IndexedId {
  return { id }
}

async function* batches<T>(items: readonly T[], size: number): AsyncIterable<readonly T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size)
}
