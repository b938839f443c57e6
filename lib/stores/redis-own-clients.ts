/**
 * The clients RedisStore creates itself (from `url` and client options, or `cluster`), with the bounds
 * DESIGN.md asks for: no offline queue, a bounded command queue, endless capped reconnects, and a
 * disconnect() that leaves no socket behind. They keep the node-redis v4 API (@redis/client 1.x)
 * whatever `redis` major the application installs. Their life once made is redis-connection.ts's.
 */
import { createClient, createCluster, type RedisClientOptions, type RedisClusterOptions } from '@redis/client'
import { InvalidOptionError } from '../errors.js'
import { redisClusterCommands } from './redis-cluster-commands.js'
import { redisCommands } from './redis-commands.js'
import type { RedisCommands } from './redis-driver.js'

/** Bound on commands waiting in an own client's queue (a stalled server otherwise piles them up). */
const QUEUE_MAX_LENGTH = 1000

/**
 * Whether an own client is opening a socket. node-redis v4 finishes a socket it was opening when
 * disconnect() came and keeps it open, with the process alive: a store closed right after it was made
 * leaked its connection. A socket is being opened from connect() (called at construction) and from
 * each 'reconnecting' until 'connect' (the socket exists: disconnect() destroys it) or 'error' (the
 * attempt failed: the retry loop then sees the client closed and stops). Bounded by the client's
 * connectTimeout (node-redis's default 5 s; with 0, by the system's TCP connect timeout).
 */
export class ConnectAttempts {
  #opening = true
  #waiters: (() => void)[] = []
  #lastError: unknown

  constructor(client: { on(event: string, listener: (error?: unknown) => void): unknown }) {
    const settle = (): void => {
      this.#opening = false
      for (const waiter of this.#waiters.splice(0)) waiter()
    }
    client.on('connect', settle)
    client.on('error', (error) => {
      // A dropped connection's error comes again, after 'reconnecting', from each command it failed
      // (a `pingInterval` PING): that is not the end of the new attempt.
      if (error === this.#lastError) return
      this.#lastError = error
      settle()
    })
    client.on('reconnecting', () => {
      this.#opening = true
    })
  }

  get opening(): boolean {
    return this.#opening
  }

  /** Resolves once no socket is being opened. */
  settled(): Promise<void> {
    return this.#opening ? new Promise((resolve) => this.#waiters.push(resolve)) : Promise.resolve()
  }
}

/**
 * The store's own client: node-redis v4 API (@redis/client 1.x), with the bounds DESIGN.md asks for:
 * no offline queue, a bounded command queue, endless capped reconnects. It keeps the v4 API whatever
 * `redis` major the application installs.
 */
export function ownClient(options: RedisClientOptions, url: unknown): RedisCommands {
  const { socket, ...rest } = options
  let client
  try {
    client = createClient({
      disableOfflineQueue: true,
      commandsQueueMaxLength: QUEUE_MAX_LENGTH,
      ...rest,
      socket: { reconnectStrategy: reconnectDelay, ...socket },
    })
  } catch (error) {
    // node-redis parses `url` here and throws a bare TypeError ("Invalid protocol").
    const reason = error instanceof Error ? ` (${error.message})` : ''
    if (url !== undefined) throw new InvalidOptionError('url', `a redis:// or rediss:// URL${reason}`, url)
    throw new InvalidOptionError('options', `node-redis client options${reason}`, options)
  }
  const redis = redisCommands(client)
  // `legacyMode: true` gives the callback API, which the store cannot drive.
  if (redis === undefined) throw new InvalidOptionError('legacyMode', 'absent or false', options.legacyMode)
  // As a cluster's disconnect waits for its slot discovery (redis-cluster-life.ts), this client's
  // waits for the socket attempt under way, which node-redis would otherwise finish and keep.
  const attempts = new ConnectAttempts(client)
  const disconnect = redis.disconnect.bind(redis)
  redis.disconnect = () => attempts.settled().then(disconnect)
  return redis
}

/**
 * The store's own cluster client (node-redis v4 API, @redis/client 1.x): every node client it opens
 * gets ownClient's bounds through `defaults`, unless the user's `defaults` say otherwise. The options
 * were validated (redis-options.ts); node-redis parses the root nodes' URLs only when it connects.
 */
export function ownCluster(options: RedisClusterOptions): RedisCommands {
  const { defaults = {}, ...rest } = options
  const cluster = createCluster({
    ...rest,
    defaults: {
      disableOfflineQueue: true,
      commandsQueueMaxLength: QUEUE_MAX_LENGTH,
      ...defaults,
      socket: { reconnectStrategy: reconnectDelay, ...defaults.socket } as NonNullable<RedisClientOptions['socket']>,
    },
  })
  // A v4 cluster always has the shape the cluster driver drives.
  return redisClusterCommands(cluster) as RedisCommands
}

/** Reconnect quickly at first, then every 2 s at most, forever: the guard skips the store meanwhile. */
function reconnectDelay(retries: number): number {
  return Math.min(retries * 100, 2000)
}
