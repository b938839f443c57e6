/**
 * RedisStore.deleteExpired()'s sweep of the index keys (redis-index.ts): members whose entry is gone
 * leave, and then URLs whose index is gone leave their origin. Writes prune expired members and index
 * keys carry TTLs, but members of values kept without TTL (`ttl: false`, or no lifetime) are scored
 * above every expiry and their keys have no TTL, and members of entries removed otherwise (remove(),
 * eviction, deleteExpired's own walk, which knows no tags) wait for a delete to read them: without the
 * sweep, a store of such values would keep index keys for every URL and tag it ever held.
 *
 * A walk, as deleteExpired is: SCAN over the namespace's index keys (indexScanPattern) and, per SCAN
 * batch, a page of each key's members with their scores, EXISTS of their entries (one key per command,
 * so a cluster routes each; PIPELINE at a time, as the client's queue is bounded), then an unindex of
 * the gone that compares scores (UNINDEX): a write of the id since the read has another score and
 * keeps its member. Origins come last, once their URLs' indexes were swept: a URL whose index is gone
 * leaves them (PRUNE_ORIGIN). Index keys left empty need no deleting: Redis deletes a sorted set with
 * its last member.
 *
 * Best effort under concurrent writes: pages go by rank, and a write's prune shifts ranks, so a member
 * may be skipped until the next sweep. A write caught between its index script and its MULTI has no
 * value yet, and its member goes as a delete would take it (redis-index.ts, "Versions").
 */
import type { RedisCommands } from './redis-driver.js'
import type { RedisConnection } from './redis-connection.js'
import { PIPELINE, pairs } from './redis-index.js'
import { PRUNE_ORIGIN, UNINDEX } from './redis-index-scripts.js'
import { indexHash, indexKeyKind, indexScanPattern, redisKey } from './redis-layout.js'
import type { RedisScan } from './redis-scan.js'

/** Members read per index key and page (ZRANGE by rank). */
const PAGE = 500
const OPERATION = 'deleteExpired'

/** An index key being swept: the sorted set read (its scores compared), the keys its ids also leave. */
interface Swept {
  readonly keys: readonly string[]
  /** Rank of the next page: past the members of the pages before that stayed. */
  start: number
}

export class RedisIndexSweep {
  readonly #connection: RedisConnection
  readonly #scan: RedisScan
  readonly #namespace: string

  constructor(connection: RedisConnection, scan: RedisScan, namespace: string) {
    this.#connection = connection
    this.#scan = scan
    this.#namespace = namespace
  }

  /** Sweeps every index key of the namespace; rejects with StoreError('deleteExpired') when a command fails. */
  async sweep(): Promise<void> {
    const origins = new Set<string>()
    for await (const keys of this.#scan.keyBatches(OPERATION, indexScanPattern(this.#namespace))) {
      const swept: Swept[] = []
      for (const key of keys) {
        const kind = indexKeyKind(this.#namespace, key)
        if (kind === 'url' || kind === 'tag') swept.push({ keys: [key], start: 0 })
        // An age bucket goes by its expiries, the scores an unindex compares; its storedAt set follows.
        else if (kind === 'ageExpiries') swept.push({ keys: [key, key.slice(0, -':exp'.length)], start: 0 })
        else if (kind === 'origin') origins.add(key)
      }
      await this.#members(swept)
    }
    // The origins (a few per host) are held to the end of the walk, so they see the URL indexes swept.
    for (const origin of origins) await this.#origin(origin)
  }

  /** Removes the members of `swept` whose entry key is gone, a page of each at a time. */
  async #members(swept: readonly Swept[]): Promise<void> {
    let pending = swept
    while (pending.length > 0) {
      const pages = await this.#slices(pending, (redis, { keys, start }) => redis.zRangeWithScores(keys[0] as string, start, start + PAGE - 1))
      const ids = [...new Set(pages.flat().map((member) => member.value))]
      const held = await this.#slices(ids, (redis, id) => {
        const key = entryKey(this.#namespace, id)
        // An id that names no key of ours has no entry to keep its member.
        return key === undefined ? Promise.resolve(false) : redis.exists(key)
      })
      const live = new Set(ids.filter((_, index) => held[index] === true))
      // Each gone member with the score read: its version, for UNINDEX to compare.
      const gone = pages.map((page) => new Map(page.filter((member) => !live.has(member.value)).map((member) => [member.value, String(member.score)])))
      const removed = await this.#slices(pending, (redis, { keys }, index) => {
        const versions = gone[index] as Map<string, string>
        return versions.size === 0 ? Promise.resolve(0) : redis.script(UNINDEX, keys, pairs(versions))
      })
      // A full page may have more after it: the next starts past the members that stayed.
      const next: Swept[] = []
      pending.forEach((item, index) => {
        if ((pages[index] ?? []).length < PAGE) return
        item.start += PAGE - Number(removed[index])
        next.push(item)
      })
      pending = next
    }
  }

  /** Removes from `origin` (and its expiries) the URLs whose index is gone, a page at a time. */
  async #origin(origin: string): Promise<void> {
    let start = 0
    for (;;) {
      const urls = await this.#connection.runBounded(OPERATION, (redis) => redis.zRange(origin, start, start + PAGE - 1))
      if (urls.length === 0) return
      // Built from the origin's key, not from each URL, so every key is in the origin's slot.
      const keys = [origin, `${origin}:exp`, ...urls.map((url) => `${origin}:u:${indexHash(url)}`)]
      const removed = await this.#connection.runBounded(OPERATION, (redis) => redis.script(PRUNE_ORIGIN, keys, urls))
      if (urls.length < PAGE) return
      start += PAGE - Number(removed)
    }
  }

  /** `send` for each item, PIPELINE at a time, each slice once the previous one answered; the replies in order. */
  async #slices<T, R>(items: readonly T[], send: (redis: RedisCommands, item: T, index: number) => Promise<R>): Promise<R[]> {
    const replies: R[] = []
    for (let start = 0; start < items.length; start += PIPELINE) {
      const slice = items.slice(start, start + PIPELINE)
      replies.push(...(await this.#connection.runBounded(OPERATION, (redis) => Promise.all(slice.map((item, offset) => send(redis, item, start + offset))))))
    }
    return replies
  }
}

function entryKey(namespace: string, id: string): string | undefined {
  try {
    return redisKey(namespace, id)
  } catch {
    return undefined
  }
}
