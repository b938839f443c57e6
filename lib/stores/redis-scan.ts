/**
 * RedisStore's walks over its namespace: SCAN batches of keys, the ids they hold, their values, and
 * the value heads the admin API reads (admin.ts AdminSource). Only the full listings, stats() and
 * clear() walk; nothing on the request path does (DESIGN.md "Public contract").
 *
 * SCAN may repeat a key when Redis resizes its table mid-walk; callers tolerate repeats. Each step is
 * one command through the connection, so a walk fails fast with StoreError like any other call.
 */
import type { HeadRead, ValueHead } from './admin.js'
import type { RedisCommands } from './redis-driver.js'
import type { RedisConnection } from './redis-connection.js'
import { idFromKey, redisKey, scanPattern } from './redis-layout.js'
import type { StoreEntryInfo } from './types.js'

/** Keys asked for per SCAN step (its COUNT): a batch of about this many keys. */
const SCAN_COUNT = 500
/**
 * Values heads() reads at a time: two commands each, so a slice takes 400 of the 1000 commands the
 * store's own client queues at most (redis-connection.ts) and leaves room for the traffic sharing it;
 * the whole batch of an admin call at once (1000 commands for 500 ids) would fill the queue itself.
 */
const HEAD_SLICE = 200

export class RedisScan {
  readonly #connection: RedisConnection
  readonly #namespace: string
  readonly #pattern: string

  constructor(connection: RedisConnection, namespace: string) {
    this.#connection = connection
    this.#namespace = namespace
    this.#pattern = scanPattern(namespace)
  }

  /**
   * Keys of the namespace's entries in batches of about SCAN_COUNT (the stats hash is not among them),
   * or of those matching `pattern` (a SCAN MATCH glob inside the namespace's).
   */
  async *keyBatches(operation: string, pattern = this.#pattern): AsyncIterable<string[]> {
    const iterator = await this.#run(operation, async (redis) => redis.scan(pattern, SCAN_COUNT)[Symbol.asyncIterator]())
    while (true) {
      const next = await this.#run(operation, () => iterator.next())
      if (next.done === true) return
      yield next.value
    }
  }

  /** Ids of the namespace's entries, one batch per keyBatches() batch; keys that hold no id are left out. */
  async *idBatches(operation = 'scan'): AsyncIterable<readonly string[]> {
    for await (const batch of this.keyBatches(operation)) {
      yield batch.flatMap((key) => idFromKey(this.#namespace, key) ?? [])
    }
  }

  /** Every id with its value: one MGET per batch. */
  async *values(): AsyncIterable<StoreEntryInfo> {
    for await (const ids of this.idBatches('scan')) {
      if (ids.length === 0) continue
      const values = await this.#run('scan', (redis) => redis.mGet(ids.map((id) => redisKey(this.#namespace, id))))
      for (const [index, id] of ids.entries()) {
        const value = values[index]
        // null: the key expired or was deleted between SCAN and MGET.
        if (value !== null && value !== undefined) yield { id, size: value.byteLength, value }
      }
    }
  }

  /**
   * Each value's size and first bytes: STRLEN and GETRANGE per read, pipelined HEAD_SLICE reads at a
   * time (a read of length 0 sends STRLEN only). A key gone reads as size 0, and a key of another type
   * fails with WRONGTYPE: both are left out (undefined). Any other failure of a read (a full client
   * queue, a lost connection) rejects the whole call, as AdminSource.heads requires.
   */
  async heads(reads: readonly HeadRead[]): Promise<(ValueHead | undefined)[]> {
    const heads: (ValueHead | undefined)[] = []
    for (let start = 0; start < reads.length; start += HEAD_SLICE) {
      const slice = reads.slice(start, start + HEAD_SLICE)
      heads.push(...(await this.#run('scan', (redis) => Promise.all(slice.map((read) => this.#head(redis, read))))))
    }
    return heads
  }

  async #head(redis: RedisCommands, read: HeadRead): Promise<ValueHead | undefined> {
    const key = redisKey(this.#namespace, read.id)
    // An end of -1 would mean "to the end" to Redis, so length 0 sends no GETRANGE.
    const [size, bytes] = await Promise.all([ours(redis.strLen(key)), read.length > 0 ? ours(redis.getRange(key, 0, read.length - 1)) : Buffer.alloc(0)])
    return size === undefined || bytes === undefined || size === 0 ? undefined : { size, bytes }
  }

  /** Bounded: walks serve the admin API. */
  #run<T>(operation: string, command: (redis: RedisCommands) => Promise<T>): Promise<T> {
    return this.#connection.runBounded(operation, command)
  }
}

/** The reply, or undefined when the key holds another type than a string: not a value of ours. */
async function ours<T>(reply: Promise<T>): Promise<T | undefined> {
  try {
    return await reply
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('WRONGTYPE')) return undefined
    throw error
  }
}
