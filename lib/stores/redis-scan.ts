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

export class RedisScan {
  readonly #connection: RedisConnection
  readonly #namespace: string
  readonly #pattern: string

  constructor(connection: RedisConnection, namespace: string) {
    this.#connection = connection
    this.#namespace = namespace
    this.#pattern = scanPattern(namespace)
  }

  /** Keys of the namespace's entries in batches of about SCAN_COUNT (the stats hash is not among them). */
  async *keyBatches(operation: string): AsyncIterable<string[]> {
    const iterator = await this.#run(operation, async (redis) => redis.scan(this.#pattern, SCAN_COUNT)[Symbol.asyncIterator]())
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
   * Each value's size and first bytes, with STRLEN and GETRANGE for every read issued together (one
   * pipelined round trip); a read of length 0 sends STRLEN only. A key gone since SCAN reads as size 0;
   * a key of another type fails with WRONGTYPE: both are left out.
   */
  async heads(reads: readonly HeadRead[]): Promise<(ValueHead | undefined)[]> {
    if (reads.length === 0) return []
    return this.#run('scan', async (redis) => {
      const keys = reads.map((read) => redisKey(this.#namespace, read.id))
      const [sizes, prefixes] = await Promise.all([
        Promise.allSettled(keys.map((key) => redis.strLen(key))),
        Promise.allSettled(keys.map((key, index) => {
          const length = (reads[index] as HeadRead).length
          return length > 0 ? redis.getRange(key, 0, length - 1) : Promise.resolve(Buffer.alloc(0))
        })),
      ])
      return keys.map((_, index) => {
        const size = sizes[index]
        const prefix = prefixes[index]
        if (size?.status !== 'fulfilled' || prefix?.status !== 'fulfilled' || size.value === 0) return undefined
        return { size: size.value, bytes: prefix.value }
      })
    })
  }

  #run<T>(operation: string, command: (redis: RedisCommands) => Promise<T>): Promise<T> {
    return this.#connection.run(operation, command)
  }
}
