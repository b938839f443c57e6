/**
 * RedisStore's indexes (types.ts StoreWrite.index): what delete(), deletePrefix(), deleteTags() and
 * deleteOlderThan() read instead of walking the namespace, so that each costs commands in proportion
 * to the entries it finds, however many keys Redis holds (issue 14). Keys are redis-layout.ts's, the
 * Lua scripts redis-index-scripts.ts's; this file is what the store and its AdminSource call.
 *
 * Index first. On one Redis (the driver's `orderedAcrossSlots`, redis-driver.ts), set() queues the
 * index scripts of its writes ahead of the values' MULTI on the one connection, so Redis runs them
 * first and both cost one round trip; when an index script fails, the values the MULTI wrote are
 * deleted again and the set() fails. On a Redis Cluster the scripts go to the nodes of the index keys'
 * slots and the MULTI to the entry's, over other connections, where nothing orders them: set() awaits
 * the scripts before it sends the MULTI (one more round trip), and a failed script fails the set()
 * before any value is written. A crash (or a lost connection) in between leaves an index member whose
 * value never came, which a delete finds dangling and unindexes; never the reverse, a servable entry
 * no delete can reach, which would break RFC 9111 §4.4 invalidation. The index cannot go in the MULTI
 * itself: its keys are in other Cluster slots than the entry's. The scripts go by EVAL, not EVALSHA: a
 * NOSCRIPT answer would come after the MULTI had run.
 *
 * Cluster-safe: every script's KEYS share a hash tag, every ZREM and ZRANGE takes one key, so each
 * command goes whole to one node; the unindex pipeline spreads over the nodes of its keys.
 *
 * Index members expire with their values: each is scored by its value's expiry on the store clock,
 * every write prunes up to PRUNE expired members of each index it touches (so a tag that never goes
 * idle stays small), and every index key's TTL covers its longest-lived member (so one nobody writes
 * to leaves with its last entry). Values kept without TTL (`ttl: false`, no lifetime) are scored
 * `+inf` and their index keys have no TTL either: they leave through the deletes.
 *
 * No read here walks the namespace (no SCAN, no KEYS): each reads one index key, or the 16 age buckets.
 */
import type { Clock } from '../clock.js'
import { StoreError } from '../errors.js'
import type { IndexQuery, Unindexed } from './admin-source.js'
import type { RedisCommands, Scored } from './redis-driver.js'
import type { RedisConnection } from './redis-connection.js'
import { AGE_BUCKETS, ageIndexKeys, originIndexKeys, redisKey, tagIndexKey, urlIndexKey } from './redis-layout.js'
import { UNINDEX_URL, WRITE_AGE, WRITE_TAG, WRITE_URL } from './redis-index-scripts.js'
import { planWrite, type TtlSettings } from './ttl.js'
import type { IndexFields, StoreWrite } from './types.js'

/** Ids or URLs per batch handed to the caller, and per ranged read (LIMIT). */
const BATCH = 500
/**
 * Commands one call has in flight at most: the client's queue is bounded (1000 for the store's own
 * client, redis-connection.ts) and the requests share it, so an unindex of 500 URLs goes in slices.
 */
const PIPELINE = 200
/** Above every byte of UTF-8 text: `[prefix` to `[prefix\xff` holds exactly the members starting with prefix. */
const BEYOND_UTF8 = Buffer.from([0xff])

/** One command of a pipeline. */
export type Call = (redis: RedisCommands) => Promise<unknown>

/** One age bucket during a `before` read: its members not yet handed out, oldest first. */
interface Bucket {
  readonly key: string
  queue: Scored[]
  /** Members of its last read: one seen again was handed out and not unindexed. */
  last: ReadonlySet<string>
  done: boolean
}

export class RedisIndex {
  readonly #connection: RedisConnection
  readonly #namespace: string
  readonly #ttl: TtlSettings
  readonly #clock: Clock

  constructor(connection: RedisConnection, namespace: string, ttl: TtlSettings, clock: Clock) {
    this.#connection = connection
    this.#namespace = namespace
    this.#ttl = ttl
    this.#clock = clock
  }

  /**
   * The scripts indexing every write that carries `index` and stores something (a write planned
   * `drop` deletes instead), one per key group, for set() to queue ahead of its MULTI. Throws
   * StoreError('set') for a malformed id, before anything is sent.
   */
  writeCalls(writes: readonly StoreWrite[]): Call[] {
    const now = this.#clock.now()
    try {
      return writes.flatMap((write) => (write.index === undefined ? [] : this.#writeCalls(write.id, write.ttlMs, write.index, now)))
    } catch (error) {
      throw new StoreError('set', { cause: error })
    }
  }

  /** AdminSource.indexed: `url` and `tag` read their index once (a snapshot), `before` the age buckets. */
  async *indexed(query: IndexQuery): AsyncIterable<readonly string[]> {
    if (query.kind === 'before') {
      yield* this.#before(query.time)
      return
    }
    const key = query.kind === 'url' ? urlIndexKey(this.#namespace, query.url) : tagIndexKey(this.#namespace, query.tag)
    const ids = await this.#run('indexed', (redis) => redis.zRange(key, 0, -1))
    for (let start = 0; start < ids.length; start += BATCH) yield ids.slice(start, start + BATCH)
  }

  /**
   * AdminSource.indexedUrls: a lex range of the prefix's origin, page by page. Each page starts after
   * the last URL of the previous one (not at an offset), so URLs the caller unindexes meanwhile
   * cannot make it skip any. A prefix that ends inside the host reads the origin spelled so.
   */
  async *indexedUrls(prefix: string): AsyncIterable<readonly string[]> {
    const key = originIndexKeys(this.#namespace, prefix).urls
    const max = Buffer.concat([Buffer.from(`[${prefix}`), BEYOND_UTF8])
    let min = `[${prefix}`
    for (;;) {
      const urls = await this.#run('indexed', (redis) => redis.zRangeByLex(key, min, max, 0, BATCH))
      if (urls.length > 0) yield urls
      if (urls.length < BATCH) return
      min = `(${urls[urls.length - 1] as string}`
    }
  }

  /**
   * AdminSource.unindex: every removal pipelined, one ZREM per age bucket key and per tag, one script
   * per URL (which also takes the URL out of its origin once it holds no id).
   */
  async unindex(entries: readonly Unindexed[]): Promise<void> {
    if (entries.length === 0) return
    const ages = new Map<string, Set<string>>()
    const tags = new Map<string, Set<string>>()
    const urls = new Map<string, Set<string>>()
    for (const { id, url, tag, age } of entries) {
      if (age) add(ages, id[0] ?? '', id)
      if (tag !== undefined) add(tags, tag, id)
      if (url !== undefined) add(urls, url, id)
    }
    await this.#pipeline('unindex', () => {
      const calls: Call[] = []
      for (const [digit, ids] of ages) {
        const age = ageIndexKeys(this.#namespace, digit)
        calls.push((redis) => redis.zRem(age.stored, [...ids]), (redis) => redis.zRem(age.expiries, [...ids]))
      }
      for (const [tag, ids] of tags) calls.push((redis) => redis.zRem(tagIndexKey(this.#namespace, tag), [...ids]))
      for (const [url, ids] of urls) {
        const keys = this.#urlKeys(url)
        calls.push((redis) => redis.script(UNINDEX_URL, keys, [url, ...ids]))
      }
      return calls
    })
  }

  /**
   * Ids stored before `time`, oldest first across the 16 buckets: each bucket is read BATCH at a time
   * from its start (the caller unindexed what was handed out, so the start has moved on) and the
   * buckets' reads are merged. A bucket stops when empty, or when a read brings back only members of
   * its previous read: those were handed out and not unindexed (a failed unindex), and reading on
   * would loop forever.
   */
  async *#before(time: number): AsyncIterable<readonly string[]> {
    const buckets: Bucket[] = AGE_BUCKETS.map((digit) => ({ key: ageIndexKeys(this.#namespace, digit).stored, queue: [], last: new Set(), done: false }))
    for (;;) {
      const dry = buckets.filter((bucket) => !bucket.done && bucket.queue.length === 0)
      if (dry.length > 0) {
        const reads = await this.#run('indexed', (redis) => Promise.all(dry.map((bucket) => redis.zRangeByScoreWithScores(bucket.key, '-inf', `(${time}`, 0, BATCH))))
        dry.forEach((bucket, index) => {
          const read = reads[index] ?? []
          bucket.queue = read.filter((member) => !bucket.last.has(member.value))
          bucket.last = new Set(read.map((member) => member.value))
          bucket.done = bucket.queue.length === 0
        })
      }
      const batch: string[] = []
      while (batch.length < BATCH) {
        let oldest: Bucket | undefined
        for (const bucket of buckets) {
          const head = bucket.queue[0]
          if (head !== undefined && (oldest === undefined || head.score < (oldest.queue[0] as Scored).score)) oldest = bucket
        }
        if (oldest === undefined) break
        batch.push((oldest.queue.shift() as Scored).value)
        // What this bucket holds next may be older than every other head: read it before going on.
        if (oldest.queue.length === 0 && !oldest.done) break
      }
      if (batch.length === 0) return
      yield batch
    }
  }

  /**
   * The scripts indexing one write, or none when it stores nothing (a `drop` deletes instead). Throws
   * on a malformed id, before anything is sent.
   */
  #writeCalls(id: string, ttlMs: number | undefined, index: IndexFields, now: number): Call[] {
    redisKey(this.#namespace, id) // validates the id
    const plan = planWrite(this.#ttl, ttlMs)
    if (plan.kind === 'drop') return []
    const expiry = plan.kind === 'expire' ? String(now + plan.ms) : '+inf'
    const common = [String(now), expiry, plan.kind === 'expire' ? String(plan.ms) : '', id]
    const urlKeys = this.#urlKeys(index.url)
    const age = ageIndexKeys(this.#namespace, id)
    return [
      (redis) => redis.evalScript(WRITE_URL, urlKeys, [...common, index.url]),
      ...[...new Set(index.tags)].map((tag): Call => (redis) => redis.evalScript(WRITE_TAG, [tagIndexKey(this.#namespace, tag)], common)),
      (redis) => redis.evalScript(WRITE_AGE, [age.stored, age.expiries], [...common, String(index.storedAt)]),
    ]
  }

  /** The keys of the URL scripts: the URL's index, its origin's URLs, its origin's URL expiries (one slot). */
  #urlKeys(url: string): string[] {
    const origin = originIndexKeys(this.#namespace, url)
    return [urlIndexKey(this.#namespace, url), origin.urls, origin.expiries]
  }

  /**
   * Sends the calls `build` gives, PIPELINE at a time, each slice once the previous one succeeded.
   * Rejects with StoreError(operation) when one fails or `build` throws (then nothing is sent).
   */
  async #pipeline(operation: string, build: () => readonly Call[]): Promise<void> {
    let calls: readonly Call[]
    try {
      calls = build()
    } catch (error) {
      throw new StoreError(operation, { cause: error })
    }
    for (let start = 0; start < calls.length; start += PIPELINE) {
      await this.#run(operation, (redis) => Promise.all(calls.slice(start, start + PIPELINE).map((call) => call(redis))))
    }
  }

  #run<T>(operation: string, command: (redis: RedisCommands) => Promise<T>): Promise<T> {
    return this.#connection.run(operation, command)
  }
}

function add(groups: Map<string, Set<string>>, key: string, id: string): void {
  const group = groups.get(key)
  if (group === undefined) groups.set(key, new Set([id]))
  else group.add(id)
}
