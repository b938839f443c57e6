/**
 * The driver for node-redis cluster clients: `createCluster` of redis 4 (@redis/client 1.x, also the
 * store's own), 5 and 6. Every command goes by its key to the master serving the key's slot (the
 * cluster client routes it, following MOVED and ASK); a multi-key command never spans two slots:
 * - MGET and UNLINK are split per slot (clusterSlot(), redis-layout.ts) and sent together, at most
 *   IN_FLIGHT at a time, MGET's replies put back in order and UNLINK's counts added up;
 * - a batch (MULTI) becomes one MULTI per slot, each routed by its first key: all or none per slot,
 *   so per entry (an entry's keys share a hash tag), but not across entries;
 * - SCAN walks every master in turn through the master's own client (redis-commands.ts drives it),
 *   so the listings, clear(), stats() and deleteExpired() see the whole cluster. A key that moves to
 *   another master during the walk (resharding) may be listed twice or missed; a master that fails
 *   during the walk fails it.
 * The other commands take one key, or keys of one hash tag (redis-index-scripts.ts), and go as they
 * are. The client's life (readiness, retries, unref, slot-map refresh) is redis-cluster-life.ts's.
 *
 * Differences between the majors' cluster clients, measured against Redis 7 with 4.7.1, 5.12.1, 6.3.1:
 * - Buffer replies: a v4 cluster has no commandOptions(), so GET, MGET and GETRANGE go through
 *   `sendCommand(key, true, args, { returnBuffers: true })`; v5 and v6 clusters have withTypeMapping().
 * - A v4 cluster routes a MULTI only by the key given to multi(routing), v5 and v6 by its first key;
 *   a v4 cluster sends EVAL and EVALSHA to a random node (it reads no key from `{ keys }`), so they
 *   go through sendCommand, routed by their first key.
 * - v6 prefixes keys with the cluster's `keyPrefix`, but its node clients do not: SCAN adds it to
 *   the pattern and strips it from the keys, and the slot is computed over the prefixed key.
 */
import { ClusterLife, type Cluster } from './redis-cluster-life.js'
import { ModernCommands, redisCommands, SharedCommands, type Client } from './redis-commands.js'
import type { LuaScript, RedisCommands, Scored, WriteBatch } from './redis-driver.js'
import { clusterSlot, escapeGlob } from './redis-layout.js'

/**
 * The shape node-redis 4, 5 and 6 cluster clients share, so `RedisStoreOptions['client']` accepts
 * each of them; structural only, checked at run time like NodeRedisClient.
 */
export interface NodeRedisCluster {
  readonly isOpen: boolean
  readonly masters: readonly unknown[]
  connect(): Promise<unknown>
  nodeClient(node: never): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
}

/** Single-slot commands one split command sends at most at once: node clients' queues are bounded. */
const IN_FLIGHT = 200

const REQUIRED = ['connect', 'disconnect', 'on', 'off', 'nodeClient', 'multi', 'sendCommand', 'get', 'mGet', 'getRange', 'strLen', 'unlink', 'hGetAll'] as const

/** The driver for a node-redis cluster client, or undefined when `client` is not one the store drives. */
export function redisClusterCommands(client: unknown): RedisCommands | undefined {
  if (typeof client !== 'object' || client === null) return undefined
  const candidate = client as Partial<Record<string, unknown>>
  if (typeof candidate['isOpen'] !== 'boolean' || !Array.isArray(candidate['masters'])) return undefined
  if (REQUIRED.some((name) => typeof candidate[name] !== 'function')) return undefined
  const cluster = client as Cluster
  if (typeof candidate['withTypeMapping'] === 'function') return new ClusterCommands(cluster, new ModernCommands(client as Client), true)
  return new ClusterCommands(cluster, new V4ClusterKeys(client as Client, client as Client), false)
}

/** The single-slot commands over a v4 cluster, where its own methods would not route or type them right. */
class V4ClusterKeys extends SharedCommands {
  get(key: string): Promise<Buffer | null> {
    return this.#buffers(key, ['GET', key]) as Promise<Buffer | null>
  }

  mGet(keys: readonly string[]): Promise<(Buffer | null)[]> {
    return this.#buffers(keys[0], ['MGET', ...keys]) as Promise<(Buffer | null)[]>
  }

  getRange(key: string, start: number, end: number): Promise<Buffer> {
    return this.#buffers(key, ['GETRANGE', key, String(start), String(end)]) as Promise<Buffer>
  }

  scan(): AsyncIterable<string[]> {
    throw new Error('a cluster is scanned master by master (ClusterCommands.scan)')
  }

  override async script(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    try {
      return await this.#eval('EVALSHA', script.sha, keys, args)
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error
      return this.#eval('EVAL', script.source, keys, args)
    }
  }

  override evalScript(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#eval('EVAL', script.source, keys, args)
  }

  #eval(command: 'EVAL' | 'EVALSHA', script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#cluster.sendCommand(keys[0], false, [command, script, String(keys.length), ...keys, ...args])
  }

  #buffers(key: string | undefined, args: string[]): Promise<unknown> {
    // IS_READ_ONLY as v4's own GET: a replica only with the cluster's `useReplicas`.
    return this.#cluster.sendCommand(key, true, args, { returnBuffers: true })
  }

  get #cluster(): Cluster {
    return this.client as unknown as Cluster
  }
}

class ClusterCommands implements RedisCommands {
  readonly orderedAcrossSlots = false
  readonly #cluster: Cluster
  /** The commands of one slot, through the cluster client (which routes them by key). */
  readonly #keys: SharedCommands
  readonly #life: ClusterLife
  /** v6 keyPrefix: sent before every key, so part of its slot, and on the keys node clients SCAN. */
  readonly keyPrefix: string

  constructor(cluster: Cluster, keys: SharedCommands, modern: boolean) {
    this.#cluster = cluster
    this.#keys = keys
    this.#life = new ClusterLife(cluster, modern)
    const prefix = cluster._keyPrefix
    this.keyPrefix = typeof prefix === 'string' || Buffer.isBuffer(prefix) ? String(prefix) : ''
  }

  get isOpen(): boolean {
    return this.#life.isOpen
  }

  get isReady(): boolean {
    return this.#life.isReady
  }

  connect(): Promise<unknown> {
    return this.#life.connect()
  }

  disconnect(): Promise<unknown> {
    return this.#life.disconnect()
  }

  on(event: 'error' | 'ready', listener: (error?: unknown) => void): void {
    this.#life.on(event, listener)
  }

  off(event: 'error' | 'ready', listener: (error?: unknown) => void): void {
    this.#life.off(event, listener)
  }

  unref(): void {
    this.#life.unref()
  }

  get(key: string): Promise<Buffer | null> {
    return this.#on(key, () => this.#keys.get(key))
  }

  async mGet(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const values: (Buffer | null)[] = keys.map(() => null)
    await this.#perSlot(keys, async (group, positions) => {
      const replies = group.length === 1 ? [await this.#keys.get(group[0] as string)] : await this.#keys.mGet(group)
      positions.forEach((position, index) => {
        values[position] = replies[index] ?? null
      })
    })
    return values
  }

  getRange(key: string, start: number, end: number): Promise<Buffer> {
    return this.#on(key, () => this.#keys.getRange(key, start, end))
  }

  strLen(key: string): Promise<number> {
    return this.#on(key, () => this.#keys.strLen(key))
  }

  exists(key: string): Promise<boolean> {
    return this.#on(key, () => this.#keys.exists(key))
  }

  async unlink(keys: readonly string[]): Promise<number> {
    let removed = 0
    await this.#perSlot(keys, async (group) => {
      const count = await this.#keys.unlink(group)
      // Added after the await: `removed += await …` would read `removed` before it, losing counts.
      removed += count
    })
    return removed
  }

  hGetAll(key: string): Promise<Record<string, string>> {
    return this.#on(key, () => this.#keys.hGetAll(key))
  }

  batch(): WriteBatch {
    const slots = new Map<number, { readonly routing: string; readonly queue: ((batch: WriteBatch) => void)[] }>()
    const add = (key: string, command: (batch: WriteBatch) => void): void => {
      const slot = this.#slot(key)
      const group = slots.get(slot)
      if (group === undefined) slots.set(slot, { routing: key, queue: [command] })
      else group.queue.push(command)
    }
    return {
      set: (key, value, px) => add(key, (batch) => batch.set(key, value, px)),
      pExpire: (key, ms) => add(key, (batch) => batch.pExpire(key, ms)),
      persist: (key) => add(key, (batch) => batch.persist(key)),
      unlink: (key) => add(key, (batch) => batch.unlink(key)),
      hIncrBy: (key, field, by) => add(key, (batch) => batch.hIncrBy(key, field, by)),
      exec: async () => {
        const replies = [...slots.values()].map(({ routing, queue }) =>
          this.#on(routing, () => {
            const batch = this.#keys.batch(routing)
            for (const command of queue) command(batch)
            return batch.exec()
          }),
        )
        return (await Promise.all(replies)).flat()
      },
    }
  }

  async *scan(match: string, count: number): AsyncIterable<string[]> {
    const pattern = escapeGlob(this.keyPrefix) + match
    // A copy: a topology change replaces the list, and the walk covers the masters it started with.
    for (const master of [...this.#cluster.masters]) {
      const node = redisCommands(await this.#cluster.nodeClient(master))
      if (node === undefined) throw new Error(`the client of cluster node ${master.address ?? '?'} is not one the store can drive`)
      for await (const keys of node.scan(pattern, count)) yield keys.map((key) => key.slice(this.keyPrefix.length))
    }
  }

  script(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#on(keys[0], () => this.#keys.script(script, keys, args))
  }

  evalScript(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.#on(keys[0], () => this.#keys.evalScript(script, keys, args))
  }

  zRange(key: string, start: number, stop: number): Promise<string[]> {
    return this.#on(key, () => this.#keys.zRange(key, start, stop))
  }

  zRangeWithScores(key: string, start: number, stop: number): Promise<Scored[]> {
    return this.#on(key, () => this.#keys.zRangeWithScores(key, start, stop))
  }

  zRangeByScoreWithScores(key: string, min: string, max: string, offset: number, count: number): Promise<Scored[]> {
    return this.#on(key, () => this.#keys.zRangeByScoreWithScores(key, min, max, offset, count))
  }

  zRangeByLex(key: string, min: string | Buffer, max: string | Buffer, offset: number, count: number): Promise<string[]> {
    return this.#on(key, () => this.#keys.zRangeByLex(key, min, max, offset, count))
  }

  zRem(key: string, members: readonly string[]): Promise<number> {
    return this.#on(key, () => this.#keys.zRem(key, members))
  }

  /** Any node takes a PUBLISH (a cluster relays it to every node); no store feature on a cluster sends one. */
  publish(channel: string, message: string): Promise<number> {
    return this.#on(undefined, () => this.#keys.publish(channel, message))
  }

  /**
   * Sends a command on `key`; a failure, or no reply for long, may mean its master is gone: the life
   * then probes for a new slot map (redis-cluster-life.ts).
   */
  async #on<T>(key: string | undefined, send: () => Promise<T>): Promise<T> {
    const sent = key === undefined ? undefined : this.keyPrefix + key
    const settled = this.#life.sent(sent)
    try {
      return await send()
    } catch (error) {
      this.#life.refreshAfter(error, sent)
      throw error
    } finally {
      settled()
    }
  }

  #slot(key: string): number {
    return clusterSlot(this.keyPrefix + key)
  }

  /** Runs `send` once per slot with its keys and their positions in `keys`, IN_FLIGHT slots at a time. */
  async #perSlot(keys: readonly string[], send: (group: string[], positions: number[]) => Promise<void>): Promise<void> {
    const slots = new Map<number, number[]>()
    keys.forEach((key, position) => {
      const slot = this.#slot(key)
      const positions = slots.get(slot)
      if (positions === undefined) slots.set(slot, [position])
      else positions.push(position)
    })
    const groups = [...slots.values()]
    for (let start = 0; start < groups.length; start += IN_FLIGHT) {
      await Promise.all(
        groups.slice(start, start + IN_FLIGHT).map((positions) => {
          const group = positions.map((position) => keys[position] as string)
          return this.#on(group[0], () => send(group, positions))
        }),
      )
    }
  }
}
