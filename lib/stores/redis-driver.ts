/**
 * The interface between RedisStore and a Redis driver: the few commands the store sends, whatever is
 * behind them. Two families implement it: redis-commands.ts drives one node-redis client (majors 4, 5
 * and 6), redis-cluster-commands.ts a node-redis cluster client, routing every command by its key and
 * never sending a multi-key command across slots. Keys are given and returned without a v6 `keyPrefix`.
 */

/**
 * Writes queued into one MULTI; exec() sends them in one round trip and applies them all or none. On
 * a cluster, one MULTI per slot: all or none per slot (per entry, as its keys share a hash tag).
 */
export interface WriteBatch {
  /** SET, with PX when `px` is given; without it SET also clears a TTL the key had. */
  set(key: string, value: Buffer, px: number | undefined): void
  pExpire(key: string, ms: number): void
  persist(key: string): void
  unlink(key: string): void
  hIncrBy(key: string, field: string, by: number): void
  exec(): Promise<unknown>
}

/** A Lua script and the SHA-1 Redis caches it under (EVALSHA). */
export interface LuaScript {
  readonly source: string
  readonly sha: string
}

/** A member of a sorted set with its score. */
export interface Scored {
  readonly value: string
  readonly score: number
}

/**
 * A connection of its own for the local tier's invalidations (redis-tracking.ts): opened like the
 * store's, speaking RESP2, and never reconnecting by itself (a reconnected connection would have lost
 * its CLIENT TRACKING state unseen).
 */
export interface SubscriberClient {
  connect(): Promise<unknown>
  sendCommand(args: string[]): Promise<unknown>
  /** SUBSCRIBE; `listener` gets each message as Redis sent it: bytes, an array of them, or null. */
  subscribe(channels: string[], listener: (message: unknown, channel: unknown) => void): Promise<unknown>
  /** Reports the connection's loss, and failures to open it. */
  on(event: 'error', listener: (error: unknown) => void): void
  unref(): void
  disconnect(): Promise<unknown>
}

/** What RedisStore needs of a client. */
export interface RedisCommands {
  readonly isOpen: boolean
  readonly isReady: boolean
  /**
   * True when commands sent one after the other, without waiting, run in that order whatever their
   * keys: one connection to one server. False on a cluster, where commands on keys of other slots go
   * to other nodes over other connections, so a command that must run after another waits for its
   * reply first (redis-index.ts: index before value).
   */
  readonly orderedAcrossSlots: boolean
  /** node-redis 6's `keyPrefix`, which it adds to key arguments but not to keys Redis sends back; '' otherwise. */
  readonly keyPrefix: string
  /**
   * A new connection for the local tier's invalidations; absent on a cluster, where each master
   * would need one of its own (RedisStore refuses `localCache` there).
   */
  readonly subscriber?: () => SubscriberClient
  connect(): Promise<unknown>
  /**
   * Drops the connection, once a connect under way has ended (node-redis would keep what it opens
   * after); only for clients the store created (a borrowed one is never closed).
   */
  disconnect(): Promise<unknown>
  on(event: 'error' | 'ready', listener: (error?: unknown) => void): void
  off(event: 'error' | 'ready', listener: (error?: unknown) => void): void
  unref(): void
  get(key: string): Promise<Buffer | null>
  /** MGET; on a cluster, split per slot and put back in order. */
  mGet(keys: readonly string[]): Promise<(Buffer | null)[]>
  /** GETRANGE with an inclusive `end`, as Redis takes it. */
  getRange(key: string, start: number, end: number): Promise<Buffer>
  strLen(key: string): Promise<number>
  /** EXISTS of one key (on a cluster, multi-key EXISTS would span slots). */
  exists(key: string): Promise<boolean>
  /** UNLINK; on a cluster, split per slot, the counts added up. */
  unlink(keys: readonly string[]): Promise<number>
  /** HGETALL as field → string, whatever the client's RESP version and type mapping. */
  hGetAll(key: string): Promise<Record<string, string>>
  batch(): WriteBatch
  /**
   * SCAN MATCH `match` (a glob over keys as given to the other commands), in batches of about `count`
   * keys; on a cluster, every master in turn.
   */
  scan(match: string, count: number): AsyncIterable<string[]>
  /** Runs `script` by EVALSHA, or by EVAL when Redis does not hold it (first use, restart, SCRIPT FLUSH). */
  script(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown>
  /** Runs `script` by EVAL: for one that must not fail with NOSCRIPT, as commands queued behind it run before a retry could. */
  evalScript(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown>
  /** ZRANGE by rank, `stop` inclusive (-1: the last). */
  zRange(key: string, start: number, stop: number): Promise<string[]>
  /** ZRANGE by rank WITHSCORES, `stop` inclusive (-1: the last). */
  zRangeWithScores(key: string, start: number, stop: number): Promise<Scored[]>
  /** ZRANGEBYSCORE WITHSCORES LIMIT; bounds in Redis syntax (`-inf`, `(123`). */
  zRangeByScoreWithScores(key: string, min: string, max: string, offset: number, count: number): Promise<Scored[]>
  /** ZRANGEBYLEX LIMIT; bounds in Redis syntax (`[a`, `(a`), a Buffer for bytes that are not UTF-8 (`\xff`). */
  zRangeByLex(key: string, min: string | Buffer, max: string | Buffer, offset: number, count: number): Promise<string[]>
  zRem(key: string, members: readonly string[]): Promise<number>
  publish(channel: string, message: string): Promise<number>
}
