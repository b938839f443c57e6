/**
 * The commands RedisStore sends, over whichever node-redis major the user's client comes from. This is
 * the only file that knows the majors' clients apart (redis-cluster-commands.ts knows their cluster
 * clients); the store sees one small interface, redis-driver.ts's RedisCommands.
 *
 * Differences measured against a real redis-server with redis 4.7.1, 5.12.1 and 6.3.1:
 * - Buffer replies: v4 takes `client.commandOptions({ returnBuffers: true })` as a first argument;
 *   v5 and v6 have no commandOptions but `client.withTypeMapping({ [BLOB_STRING]: Buffer })`, a view
 *   of the client whose bulk-string replies are Buffers.
 * - SCAN: v4's scanIterator yields one key at a time, v5's and v6's one array per SCAN page.
 * - v5 and v6 apply `createClient({ commandOptions: { typeMapping } })` to every reply, and v6 speaks
 *   RESP3 by default, so HGETALL may come back as a Map of Buffers: string replies are read through
 *   `withTypeMapping({})` (the default mapping) and hashes are normalised anyway.
 * - v6 prefixes every key argument with `keyPrefix`, EVAL's and EVALSHA's `keys` included, but
 *   neither the SCAN pattern nor the keys SCAN returns: the driver adds it to the pattern and strips
 *   it from the keys.
 * - EVAL/EVALSHA (`{ keys, arguments }`, NOSCRIPT error message), ZRANGE, ZRANGE and ZRANGEBYSCORE
 *   WITHSCORES (`{ value, score }` objects), ZRANGEBYLEX with `{ LIMIT }` (Buffer bounds too) and ZREM
 *   take the same arguments in all three.
 * - SET with PX, PEXPIRE, PERSIST, UNLINK, HINCRBY, STRLEN, EXISTS, MULTI/EXEC, isReady, isOpen,
 *   connect(), unref() and the 'error' and 'ready' events behave alike in all three.
 *
 * Recognised by capability, not by version string: `withTypeMapping` means the v5+ API, a
 * `commandOptions` function outside legacyMode the v4 one. Cluster clients (no scanIterator: their
 * keys span nodes) go to redis-cluster-commands.ts, which reuses these drivers over the cluster and
 * its nodes. What neither drives is refused (the store throws InvalidOptionError): v4 `legacyMode`
 * and v5+ `.legacy()` clients (callback API), pools (no isReady), and other libraries' clients (ioredis).
 */
import type { LuaScript, RedisCommands, Scored, SubscriberClient, WriteBatch } from './redis-driver.js'

/** The clients `{ client }` accepts, as error messages name them. */
export const SUPPORTED_CLIENTS = 'a node-redis client of major 4, 5 or 6 (from createClient or createCluster, connected or not; not legacyMode, .legacy() or a pool)'

/**
 * The shape node-redis 4, 5 and 6 clients share, so `RedisStoreOptions['client']` accepts each of
 * them without this package's types importing redis 5 or 6. Structural only: the constructor checks
 * the client at run time (a `legacyMode` v4 client has this shape and is still refused).
 */
export interface NodeRedisClient {
  readonly isOpen: boolean
  readonly isReady: boolean
  connect(): Promise<unknown>
  multi(): unknown
  scanIterator(...args: never[]): AsyncIterable<unknown>
  on(event: 'error', listener: (error: Error) => void): unknown
}

/**
 * The driver for `client`, or undefined when the store cannot drive it. Every node-redis client the
 * store creates itself (v4 API, through @redis/client) goes through here too.
 */
export function redisCommands(client: unknown): RedisCommands | undefined {
  if (typeof client !== 'object' || client === null) return undefined
  const candidate = client as Partial<Record<string, unknown>> & { readonly options?: { readonly legacyMode?: unknown } }
  if (typeof candidate['isOpen'] !== 'boolean' || typeof candidate['isReady'] !== 'boolean') return undefined
  if (REQUIRED.some((name) => typeof candidate[name] !== 'function')) return undefined
  if (typeof candidate['withTypeMapping'] === 'function') return new ModernCommands(client as Client)
  if (typeof candidate['commandOptions'] === 'function' && candidate.options?.legacyMode !== true) return new V4Commands(client as Client)
  return undefined
}

const REQUIRED = ['connect', 'on', 'off', 'unref', 'multi', 'scanIterator', 'get', 'mGet', 'getRange', 'strLen', 'unlink', 'hGetAll'] as const

/** RESP_TYPES.BLOB_STRING ('$') in node-redis 5 and 6. */
const BLOB_STRING = 36
/** Redis glob syntax (util.c stringmatchlen), as redis-layout.ts escapes the namespace. */
const GLOB_META = /[*?[\]\\]/g

type Reply = Promise<unknown>
type Listener = (...args: never[]) => void

/** The client methods both APIs share, typed loosely: each driver knows what it passes and gets. */
export interface Client {
  readonly isOpen: boolean
  readonly isReady: boolean
  readonly options?: { readonly keyPrefix?: unknown; readonly socket?: object } | undefined
  connect(): Promise<unknown>
  disconnect(): Promise<unknown>
  destroy?(): unknown
  on(event: string, listener: Listener): unknown
  off(event: string, listener: Listener): unknown
  unref(): void
  /** `routing`: the key a cluster client sends the MULTI by (a v4 cluster routes it nowhere else). */
  multi(routing?: string): Multi
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<unknown>
  get(...args: unknown[]): Reply
  mGet(...args: unknown[]): Reply
  getRange(...args: unknown[]): Reply
  strLen(key: string): Reply
  exists(key: string): Reply
  unlink(keys: string[]): Reply
  hGetAll(key: string): Reply
  eval(script: string, options: EvalOptions): Reply
  evalSha(sha: string, options: EvalOptions): Reply
  zRange(key: string, start: number, stop: number): Reply
  zRangeWithScores(key: string, start: number, stop: number): Reply
  zRangeByScoreWithScores(key: string, min: string, max: string, options: LimitOptions): Reply
  zRangeByLex(key: string, min: string | Buffer, max: string | Buffer, options: LimitOptions): Reply
  zRem(key: string, members: string[]): Reply
  publish(channel: string, message: string): Reply
  sendCommand(args: string[]): Reply
  subscribe(channels: string[], listener: (message: unknown, channel: unknown) => void, bufferMode: true): Reply
  duplicate(overrides: object): Client
  commandOptions(options: { returnBuffers: true }): unknown
  withTypeMapping(mapping: Readonly<Record<number, unknown>>): Client
}

interface EvalOptions {
  readonly keys: string[]
  readonly arguments: string[]
}

interface LimitOptions {
  readonly LIMIT: { readonly offset: number; readonly count: number }
}

interface Multi {
  set(key: string, value: Buffer, options?: { PX: number }): unknown
  pExpire(key: string, ms: number): unknown
  persist(key: string): unknown
  unlink(key: string): unknown
  hIncrBy(key: string, field: string, by: number): unknown
  exec(): Promise<unknown>
}

/** What both APIs do alike; `commands` is the client the string-reply commands go through. */
export abstract class SharedCommands implements RedisCommands {
  /** One connection to one server (redis-driver.ts); the cluster driver wraps these and says false. */
  readonly orderedAcrossSlots: boolean = true
  readonly keyPrefix: string = ''

  constructor(
    protected readonly client: Client,
    protected readonly commands: Client,
  ) {}

  get isOpen(): boolean {
    return this.client.isOpen
  }

  get isReady(): boolean {
    return this.client.isReady
  }

  connect(): Promise<unknown> {
    return this.client.connect()
  }

  disconnect(): Promise<unknown> {
    return this.client.disconnect()
  }

  on(event: 'error' | 'ready', listener: (error?: unknown) => void): void {
    this.client.on(event, listener)
  }

  off(event: 'error' | 'ready', listener: (error?: unknown) => void): void {
    this.client.off(event, listener)
  }

  unref(): void {
    this.client.unref()
  }

  async strLen(key: string): Promise<number> {
    return Number(await this.commands.strLen(key))
  }

  async exists(key: string): Promise<boolean> {
    return Number(await this.commands.exists(key)) > 0
  }

  async unlink(keys: readonly string[]): Promise<number> {
    return Number(await this.commands.unlink([...keys]))
  }

  async hGetAll(key: string): Promise<Record<string, string>> {
    const reply = await this.commands.hGetAll(key)
    const pairs = reply instanceof Map ? [...reply] : Object.entries(reply ?? {})
    // String() of a Buffer decodes it as UTF-8, which is how the counters were written.
    return Object.fromEntries(pairs.map(([field, value]: [unknown, unknown]) => [String(field), String(value)]))
  }

  batch(routing?: string): WriteBatch {
    const multi = this.commands.multi(routing)
    return {
      set: (key, value, px) => void (px === undefined ? multi.set(key, value) : multi.set(key, value, { PX: px })),
      pExpire: (key, ms) => void multi.pExpire(key, ms),
      persist: (key) => void multi.persist(key),
      unlink: (key) => void multi.unlink(key),
      hIncrBy: (key, field, by) => void multi.hIncrBy(key, field, by),
      exec: () => multi.exec(),
    }
  }

  async script(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const options = { keys: [...keys], arguments: [...args] }
    try {
      return await this.commands.evalSha(script.sha, options)
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error
      return this.commands.eval(script.source, options)
    }
  }

  evalScript(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.commands.eval(script.source, { keys: [...keys], arguments: [...args] })
  }

  async zRange(key: string, start: number, stop: number): Promise<string[]> {
    return ((await this.commands.zRange(key, start, stop)) as unknown[]).map(String)
  }

  async zRangeWithScores(key: string, start: number, stop: number): Promise<Scored[]> {
    return scored(await this.commands.zRangeWithScores(key, start, stop))
  }

  async zRangeByScoreWithScores(key: string, min: string, max: string, offset: number, count: number): Promise<Scored[]> {
    return scored(await this.commands.zRangeByScoreWithScores(key, min, max, { LIMIT: { offset, count } }))
  }

  async zRangeByLex(key: string, min: string | Buffer, max: string | Buffer, offset: number, count: number): Promise<string[]> {
    return ((await this.commands.zRangeByLex(key, min, max, { LIMIT: { offset, count } })) as unknown[]).map(String)
  }

  async zRem(key: string, members: readonly string[]): Promise<number> {
    return members.length === 0 ? 0 : Number(await this.commands.zRem(key, [...members]))
  }

  async publish(channel: string, message: string): Promise<number> {
    return Number(await this.commands.publish(channel, message))
  }

  /**
   * A duplicate of the client (same server, credentials and TLS) whose socket never reconnects; v4
   * speaks RESP2 anyway. Messages come as bytes (`bufferMode`), so keys that are not UTF-8 survive.
   */
  subscriber(): SubscriberClient {
    const client = this.client.duplicate({ ...this.subscriberOverrides(), socket: { ...this.client.options?.socket, reconnectStrategy: false } })
    return {
      connect: () => client.connect(),
      sendCommand: (args) => client.sendCommand(args),
      subscribe: (channels, listener) => client.subscribe(channels, listener, true),
      on: (event, listener) => void client.on(event, listener),
      unref: () => client.unref(),
      disconnect: () => (client.destroy === undefined ? client.disconnect() : Promise.resolve(client.destroy())),
    }
  }

  /** Client options the subscriber needs besides its socket's. */
  protected subscriberOverrides(): object {
    return {}
  }

  abstract get(key: string): Promise<Buffer | null>
  abstract mGet(keys: readonly string[]): Promise<(Buffer | null)[]>
  abstract getRange(key: string, start: number, end: number): Promise<Buffer>
  abstract scan(match: string, count: number): AsyncIterable<string[]>
}

/** A WITHSCORES reply as all three majors give it: `{ value, score }` objects. */
function scored(reply: unknown): Scored[] {
  return (reply as { value: unknown; score: unknown }[]).map(({ value, score }) => ({ value: String(value), score: Number(score) }))
}

/** node-redis 4 (@redis/client 1.x). */
class V4Commands extends SharedCommands {
  /**
   * The client's own commandOptions(), not the one @redis/client exports: v4 marks the options with a
   * module-local Symbol, so a user's client from another copy of @redis/client would not see ours.
   */
  readonly #buffers: unknown

  constructor(client: Client) {
    super(client, client)
    this.#buffers = client.commandOptions({ returnBuffers: true })
  }

  get(key: string): Promise<Buffer | null> {
    return this.client.get(this.#buffers, key) as Promise<Buffer | null>
  }

  mGet(keys: readonly string[]): Promise<(Buffer | null)[]> {
    return this.client.mGet(this.#buffers, [...keys]) as Promise<(Buffer | null)[]>
  }

  getRange(key: string, start: number, end: number): Promise<Buffer> {
    return this.client.getRange(this.#buffers, key, start, end) as Promise<Buffer>
  }

  async *scan(match: string, count: number): AsyncIterable<string[]> {
    let batch: string[] = []
    for await (const key of this.client.scanIterator({ MATCH: match, COUNT: count })) {
      batch.push(String(key))
      if (batch.length >= count) {
        yield batch
        batch = []
      }
    }
    if (batch.length > 0) yield batch
  }
}

/** node-redis 5 and 6 (@redis/client 5.x, 6.x). */
export class ModernCommands extends SharedCommands {
  readonly #buffers: Client
  /** v6 `keyPrefix` (none in v5): added to key arguments by node-redis, but not to SCAN's. */
  override readonly keyPrefix: string

  constructor(client: Client) {
    super(client, client.withTypeMapping({}))
    this.#buffers = client.withTypeMapping({ [BLOB_STRING]: Buffer })
    const prefix = client.options?.keyPrefix
    this.keyPrefix = typeof prefix === 'string' || Buffer.isBuffer(prefix) ? String(prefix) : ''
  }

  /**
   * v6 speaks RESP3 by default, where invalidations would come as pushes rather than messages; and
   * the RESP3-only features a user's client may carry (v6's maintenance notifications, its own
   * client-side cache) would refuse RESP2 or do nothing useful on this connection.
   */
  protected override subscriberOverrides(): object {
    return { RESP: 2, maintNotifications: 'disabled', clientSideCache: undefined }
  }

  override disconnect(): Promise<unknown> {
    // disconnect() is deprecated since v5 in favour of destroy(), which drops pending commands alike.
    return this.client.destroy === undefined ? this.client.disconnect() : Promise.resolve(this.client.destroy())
  }

  get(key: string): Promise<Buffer | null> {
    return this.#buffers.get(key) as Promise<Buffer | null>
  }

  mGet(keys: readonly string[]): Promise<(Buffer | null)[]> {
    return this.#buffers.mGet([...keys]) as Promise<(Buffer | null)[]>
  }

  getRange(key: string, start: number, end: number): Promise<Buffer> {
    return this.#buffers.getRange(key, start, end) as Promise<Buffer>
  }

  async *scan(match: string, count: number): AsyncIterable<string[]> {
    const pattern = this.keyPrefix.replace(GLOB_META, (char) => `\\${char}`) + match
    for await (const page of this.commands.scanIterator({ MATCH: pattern, COUNT: count })) {
      const keys = (page as unknown[]).map((key) => String(key).slice(this.keyPrefix.length))
      if (keys.length > 0) yield keys
    }
  }
}
