/**
 * RedisStore's indexes (types.ts StoreWrite.index): what delete(), deletePrefix(), deleteTags() and
 * deleteOlderThan() read instead of walking the namespace, so that each costs commands in proportion
 * to the entries it finds, however many keys Redis holds (issue 14). Keys are redis-layout.ts's, the
 * Lua scripts redis-index-scripts.ts's; this file is what the store and its AdminSource call, and
 * redis-index-sweep.ts what deleteExpired() adds.
 *
 * Index first. On one Redis (the driver's `orderedAcrossSlots`, redis-driver.ts), set() queues one
 * index script per write ahead of the values' MULTI on the one connection, so Redis runs them first
 * and both cost one round trip; when an index script fails, the values the MULTI wrote are deleted
 * again and the set() fails. On a Redis Cluster the scripts go to the nodes of the index keys' slots
 * and the MULTI to the entry's, over other connections, where nothing orders them: set() awaits the
 * scripts before it sends the MULTI, and a failed script fails the set() before any value is written.
 * A crash (or a lost connection) in between leaves an index member whose value never came, which a
 * delete finds dangling and unindexes; never the reverse, a servable entry no delete can reach, which
 * would break RFC 9111 §4.4 invalidation. The index cannot go in the MULTI itself: its keys are in
 * other Cluster slots than the entry's. The scripts go by EVAL, not EVALSHA: a NOSCRIPT answer would
 * come after the MULTI had run.
 *
 * Versions. Every member is scored by its value's expiry on Redis' clock, stamped once per write (one
 * script on one Redis; on a cluster the URL's script stamps it and the age and tag scripts take it,
 * one round trip later) and unique per write of an id, so the score says which write a member is of.
 * A delete reads the scores with the ids and unindexes only members still at the score it read
 * (AdminSource.unindex with a version). That closes the interleaving where a writer stores an id
 * again between the delete's UNLINK and its unindex: the delete used to remove the writer's fresh
 * members, leaving a servable entry no delete could reach; now they differ from what it read and stay.
 * What remains is a write caught between its index script and its MULTI: a delete reading the fresh
 * member then finds no value (or the old one, which it deletes), unindexes the member, and the value
 * lands unindexed. On one Redis the writer sends both together on one connection, and Redis runs the
 * commands of one client that arrive in one read back to back, so in practice no other client's
 * command falls between them unless the values are too large to arrive at once. On a cluster the
 * MULTI waits for the script's reply, so the window is a round trip wide there. deleteExpired()'s walk
 * reads no index and unindexes the entries it finds stale without a version: for those, a rewrite
 * between its UNLINK and its unindex still loses its URL and age members.
 *
 * Cluster-safe: every script's KEYS share a hash tag on a cluster (one Redis takes one script for all
 * of a write's keys), every ZRANGE takes one key, so each command goes whole to one node; the unindex
 * pipeline spreads over the nodes of its keys.
 *
 * Index members expire with their values: each scored by its value's expiry on Redis' clock (so
 * processes whose clocks disagree score and prune alike: the store clock only dates storedAt, which
 * deleteOlderThan compares), every write prunes up to PRUNE expired members of each index it touches
 * (so a tag that never goes idle stays small), and every index key's TTL covers its longest-lived
 * member (so one nobody writes to leaves with its last entry). Values kept without TTL (`ttl: false`,
 * no lifetime) are scored above every expiry (KEEP_FLOOR + now) and their index keys have no TTL:
 * they leave through the deletes, and deleteExpired()'s sweep removes the members of entries gone.
 *
 * No read here walks the namespace (no SCAN, no KEYS): each reads one index key, or the 16 age buckets.
 */
import { StoreError } from '../errors.js'
import type { IndexedId, IndexQuery, Unindexed } from './admin-source.js'
import type { RedisCommands } from './redis-driver.js'
import type { RedisConnection } from './redis-connection.js'
import { AGE_BUCKETS, ageIndexKeys, originIndexKeys, redisKey, tagIndexKey, urlIndexKey } from './redis-layout.js'
import { READ_AGE, UNINDEX, UNINDEX_URL, WRITE_INDEX } from './redis-index-scripts.js'
import { planWrite, type TtlSettings } from './ttl.js'
import type { IndexFields, StoreWrite } from './types.js'

/** Ids or URLs per batch handed to the caller, and per ranged read (LIMIT). */
const BATCH = 500
/**
 * Commands one call has in flight at most: the client's queue is bounded (1000 for the store's own
 * client, redis-connection.ts) and the requests share it, so an unindex of 500 URLs goes in slices.
 */
export const PIPELINE = 200
/** Above every byte of UTF-8 text: `[prefix` to `[prefix\xff` holds exactly the members starting with prefix. */
const BEYOND_UTF8 = Buffer.from([0xff])

/** One command of a pipeline. */
export type Call = (redis: RedisCommands) => Promise<unknown>

/** A member of an age bucket read: its storedAt (`score`) and its expiry (`version`). */
interface AgeMember {
  readonly id: string
  readonly score: number
  readonly version: number | undefined
}

/** One age bucket during a `before` read: its members not yet handed out, oldest first. */
interface Bucket {
  readonly key: string
  readonly expiries: string
  queue: AgeMember[]
  /** Members of its last read: one seen again was handed out and not unindexed. */
  last: ReadonlySet<string>
  done: boolean
}

export class RedisIndex {
  readonly #connection: RedisConnection
  readonly #namespace: string
  readonly #ttl: TtlSettings

  constructor(connection: RedisConnection, namespace: string, ttl: TtlSettings) {
    this.#connection = connection
    this.#namespace = namespace
    this.#ttl = ttl
  }

  /**
   * The calls indexing every write that carries `index` and stores something (a write planned `drop`
   * deletes instead), one per write, for set() to start ahead of its MULTI: on one Redis each sends its
   * script when called. Throws StoreError('set') for a malformed id, before anything is sent.
   */
  writeCalls(writes: readonly StoreWrite[]): Call[] {
    try {
      return writes.flatMap((write) => (write.index === undefined ? [] : this.#writeCall(write.id, write.ttlMs, write.index)))
    } catch (error) {
      throw new StoreError('set', { cause: error })
    }
  }

  /**
   * AdminSource.indexed: `url` and `tag` read their index once (a snapshot), `before` the age buckets;
   * each id with its score, the expiry stamped by the write that indexed it (its version).
   */
  async *indexed(query: IndexQuery): AsyncIterable<readonly IndexedId[]> {
    if (query.kind === 'before') {
      yield* this.#before(query.time)
      return
    }
    const key = query.kind === 'url' ? urlIndexKey(this.#namespace, query.url) : tagIndexKey(this.#namespace, query.tag)
    const members = await this.#run('index read', (redis) => redis.zRangeWithScores(key, 0, -1))
    const ids = members.map(({ value, score }) => ({ id: value, version: score }))
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
      const urls = await this.#run('index read', (redis) => redis.zRangeByLex(key, min, max, 0, BATCH))
      if (urls.length > 0) yield urls
      if (urls.length < BATCH) return
      min = `(${urls[urls.length - 1] as string}`
    }
  }

  /**
   * AdminSource.unindex: every removal pipelined, one script per age bucket, per tag and per URL (which
   * also takes the URL out of its origin once it holds no id). Each removes an id only where its score
   * is still the version given (the age buckets compare their expiries), or whatever it is without one.
   */
  async unindex(entries: readonly Unindexed[]): Promise<void> {
    if (entries.length === 0) return
    const ages = new Map<string, Map<string, string>>()
    const tags = new Map<string, Map<string, string>>()
    const urls = new Map<string, Map<string, string>>()
    for (const { id, url, tag, age, version } of entries) {
      const at = version === undefined ? '' : String(version)
      if (age) add(ages, id[0] ?? '', id, at)
      if (tag !== undefined) add(tags, tag, id, at)
      if (url !== undefined) add(urls, url, id, at)
    }
    await this.#pipeline('unindex', () => {
      const calls: Call[] = []
      for (const [digit, ids] of ages) {
        const age = ageIndexKeys(this.#namespace, digit)
        calls.push((redis) => redis.script(UNINDEX, [age.expiries, age.stored], pairs(ids)))
      }
      for (const [tag, ids] of tags) calls.push((redis) => redis.script(UNINDEX, [tagIndexKey(this.#namespace, tag)], pairs(ids)))
      for (const [url, ids] of urls) {
        const keys = this.#urlKeys(url)
        calls.push((redis) => redis.script(UNINDEX_URL, keys, [url, ...pairs(ids)]))
      }
      return calls
    })
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

  /**
   * Ids stored before `time`, oldest first across the 16 buckets, each with its expiry as its version
   * (READ_AGE reads both in one script per bucket, all buckets in one round trip): each bucket is read
   * BATCH at a time from its start (the caller unindexed what was handed out, so the start has moved
   * on) and the buckets' reads are merged. A bucket stops when empty, or when a read brings back only
   * members of its previous read: those were handed out and not unindexed (a failed unindex), and
   * reading on would loop forever.
   */
  async *#before(time: number): AsyncIterable<readonly IndexedId[]> {
    const buckets: Bucket[] = AGE_BUCKETS.map((digit) => {
      const { stored, expiries } = ageIndexKeys(this.#namespace, digit)
      return { key: stored, expiries, queue: [], last: new Set(), done: false }
    })
    for (;;) {
      const dry = buckets.filter((bucket) => !bucket.done && bucket.queue.length === 0)
      if (dry.length > 0) {
        const reads = await this.#run('index read', (redis) => Promise.all(dry.map((bucket) => redis.script(READ_AGE, [bucket.key, bucket.expiries], [`(${time}`, String(BATCH)]))))
        dry.forEach((bucket, index) => {
          const read = ageMembers(reads[index])
          bucket.queue = read.filter((member) => !bucket.last.has(member.id))
          bucket.last = new Set(read.map((member) => member.id))
          bucket.done = bucket.queue.length === 0
        })
      }
      const batch: IndexedId[] = []
      while (batch.length < BATCH) {
        let oldest: Bucket | undefined
        for (const bucket of buckets) {
          const head = bucket.queue[0]
          if (head !== undefined && (oldest === undefined || head.score < (oldest.queue[0] as AgeMember).score)) oldest = bucket
        }
        if (oldest === undefined) break
        const { id, version } = oldest.queue.shift() as AgeMember
        batch.push(version === undefined ? { id } : { id, version })
        // What this bucket holds next may be older than every other head: read it before going on.
        if (oldest.queue.length === 0 && !oldest.done) break
      }
      if (batch.length === 0) return
      yield batch
    }
  }

  /**
   * The call indexing one write, or none when it stores nothing (a `drop` deletes instead). Throws on
   * a malformed id, before anything is sent. On one Redis, one script over all of the write's keys
   * (one TIME, so one score in all of them), sent when the call is made; on a cluster, the URL's
   * script first, stamping the score, then the age bucket's and each tag's with that score, at once.
   */
  #writeCall(id: string, ttlMs: number | undefined, index: IndexFields): Call[] {
    redisKey(this.#namespace, id) // validates the id
    const plan = planWrite(this.#ttl, ttlMs)
    if (plan.kind === 'drop') return []
    const px = plan.kind === 'expire' ? String(plan.ms) : ''
    const urlKeys = this.#urlKeys(index.url)
    const age = ageIndexKeys(this.#namespace, id)
    const tags = [...new Set(index.tags)].map((tag) => tagIndexKey(this.#namespace, tag))
    const storedAt = String(index.storedAt)
    return [
      (redis) => {
        if (redis.orderedAcrossSlots) return redis.evalScript(WRITE_INDEX, [...urlKeys, age.stored, age.expiries, ...tags], [px, '', id, index.url, storedAt])
        return (async () => {
          const score = String(await redis.evalScript(WRITE_INDEX, urlKeys, [px, '', id, index.url, '']))
          await Promise.all([
            redis.evalScript(WRITE_INDEX, [age.stored, age.expiries], [px, score, id, '', storedAt]),
            ...tags.map((tag) => redis.evalScript(WRITE_INDEX, [tag], [px, score, id, '', ''])),
          ])
        })()
      },
    ]
  }

  /** The keys of the URL scripts: the URL's index, its origin's URLs, its origin's URL expiries (one slot). */
  #urlKeys(url: string): string[] {
    const origin = originIndexKeys(this.#namespace, url)
    return [urlIndexKey(this.#namespace, url), origin.urls, origin.expiries]
  }

  /** Bounded: index reads and removals serve the admin API and invalidations (set() sends its index writes itself). */
  #run<T>(operation: string, command: (redis: RedisCommands) => Promise<T>): Promise<T> {
    return this.#connection.runBounded(operation, command)
  }
}

function add(groups: Map<string, Map<string, string>>, key: string, id: string, version: string): void {
  const group = groups.get(key)
  if (group === undefined) groups.set(key, new Map([[id, version]]))
  else group.set(id, version)
}

/** (id, version) pairs flat, as the unindex scripts take them in ARGV. */
export function pairs(versions: ReadonlyMap<string, string>): string[] {
  return [...versions].flat()
}

/** READ_AGE's reply: (id, storedAt, expiry or '') triples, flat. */
function ageMembers(reply: unknown): AgeMember[] {
  const flat = (reply as unknown[]).map(String)
  const members: AgeMember[] = []
  for (let index = 0; index + 2 < flat.length; index += 3) {
    const expiry = flat[index + 2] as string
    members.push({ id: flat[index] as string, score: Number(flat[index + 1]), version: expiry === '' ? undefined : Number(expiry) })
  }
  return members
}
