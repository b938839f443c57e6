/**
 * Keeps RedisStore's local tier (local-tier.ts) coherent with Redis through client-side caching
 * (https://redis.io/docs/latest/develop/reference/client-side-caching/), in RESP2's redirect form, on
 * one connection of its own:
 *
 *   CLIENT ID                                   → <id>
 *   CLIENT TRACKING ON REDIRECT <id> BCAST PREFIX <ns>:{0 … PREFIX <ns>:{f (with {a0 … {af for {a)
 *   SUBSCRIBE __redis__:invalidate <heartbeat channel>
 *
 * BCAST makes Redis announce every change to a key under the prefixes, whoever made it and whether or
 * not this process read the key, so the tier needs no per-key bookkeeping in Redis and the store's
 * own connection (perhaps a user's client) is left as it is. The prefixes cover entry keys
 * (`<ns>:{<hex>…`) and leave out the index keys (`{o:`, `{t:`, `{a:`) and the stats hash, which
 * change on every write and hold nothing the tier keeps.
 *
 * The tier serves only while this connection is known to be delivering:
 * - it opens, empty, once SUBSCRIBE is confirmed and a first heartbeat (below) came back through it,
 *   and closes (emptied) on any error of the connection,
 *   which node-redis reports as the connection drops; the connection never reconnects by itself (a
 *   reconnected one would have lost its tracking), so this module opens a new one, after a pause;
 * - a FLUSHDB or FLUSHALL arrives as an invalidation without keys, and empties it;
 * - every HEARTBEAT_MS the store's connection PUBLISHes to the heartbeat channel. Redis delivers
 *   messages to one connection in order, so a heartbeat that arrives proves every invalidation sent
 *   before it arrived too; one not back by the next beat (a stalled server, a half-open connection)
 *   closes the tier. A silent failure is therefore noticed within two beats.
 */
import { randomBytes } from 'node:crypto'
import type { CancelTimer, Clock } from '../clock.js'
import { debug } from '../diagnostics.js'
import { StoreError, type CacheError } from '../errors.js'
import type { LocalTier } from './local-tier.js'
import type { RedisCommands, SubscriberClient } from './redis-driver.js'
import { idFromKey } from './redis-layout.js'

const INVALIDATE_CHANNEL = '__redis__:invalidate'
/** How often the store's connection proves the tracking connection is delivering. */
export const HEARTBEAT_MS = 1000
/** Bound on opening a tracking connection (connect, CLIENT ID, CLIENT TRACKING, SUBSCRIBE). */
const START_TIMEOUT_MS = 5000
/** Pauses before each new attempt to open the connection after a failure, the last one repeating. */
const RETRY_MS = [50, 250, 1000, 2000, 5000] as const

export interface TrackingOptions {
  readonly namespace: string
  readonly tier: LocalTier
  /** Opens a tracking connection (RedisCommands.subscriber). */
  readonly subscriber: () => SubscriberClient
  /** node-redis 6's keyPrefix (RedisCommands.keyPrefix): Redis names keys with it. */
  readonly keyPrefix: string
  /** Sends a command on the store's connection (RedisConnection.run: fails fast while it is down). */
  readonly run: <T>(operation: string, command: (redis: RedisCommands) => Promise<T>) => Promise<T>
  readonly clock: Clock
  /** Where the loss of a connection that was serving goes (the store's onBackgroundError listeners). */
  readonly report: (error: CacheError) => void
}

/** One tracking connection, from its opening to its loss. */
interface Session {
  readonly client: SubscriberClient
  /** Names this session's heartbeats, so a late one of an earlier session counts for nothing. */
  readonly token: string
  /** The connect() under way, until it settles: a connection closed before then is closed after it. */
  opening: Promise<unknown> | undefined
  live: boolean
  /** The last heartbeat sent, and the last one that came back. */
  sent: number
  received: number
  cancelBeat: CancelTimer | undefined
  /** Bounds the time from opening the connection to its first heartbeat back. */
  readonly cancelStart: CancelTimer
}

export class RedisTracking {
  readonly #options: TrackingOptions
  readonly #channel: string
  readonly #prefixes: readonly string[]
  #session: Session | undefined
  #failures = 0
  #cancelRetry: CancelTimer | undefined
  #closed = false

  constructor(options: TrackingOptions) {
    this.#options = options
    // Per store instance, so only this store's heartbeats reach it.
    this.#channel = `${options.namespace}:tier:${randomBytes(8).toString('hex')}`
    // `{a` alone would also cover the age index (`{a:<digit>}`), which every write touches.
    const starts = [...'0123456789bcdef', ...[...'0123456789abcdef'].map((digit) => `a${digit}`)]
    this.#prefixes = starts.map((start) => `${options.keyPrefix}${options.namespace}:{${start}`)
    this.#open()
  }

  /** Closes the tier and the tracking connection for good. */
  async close(): Promise<void> {
    this.#closed = true
    this.#cancelRetry?.()
    const session = this.#session
    this.#session = undefined
    this.#options.tier.close()
    if (session !== undefined) await this.#end(session)
  }

  #open(): void {
    if (this.#closed) return
    let client: SubscriberClient
    try {
      client = this.#options.subscriber()
    } catch (error) {
      this.#retry(error)
      return
    }
    const cancelStart = this.#options.clock.setTimer(START_TIMEOUT_MS, () => {
      this.#lost(session, new Error(`the tracking connection did not go live within ${START_TIMEOUT_MS} ms`))
    })
    const token = randomBytes(4).toString('hex')
    const session: Session = { client, token, opening: undefined, live: false, sent: 0, received: 0, cancelBeat: undefined, cancelStart }
    this.#session = session
    client.on('error', (error) => this.#lost(session, error))
    this.#start(session).then(
      () => this.#beat(session),
      (error: unknown) => this.#lost(session, error),
    )
  }

  async #start(session: Session): Promise<void> {
    const { client } = session
    client.unref()
    session.opening = client.connect()
    await session.opening
    session.opening = undefined
    const id = await client.sendCommand(['CLIENT', 'ID'])
    await client.sendCommand(['CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...this.#prefixes.flatMap((prefix) => ['PREFIX', prefix])])
    await client.subscribe([INVALIDATE_CHANNEL, this.#channel], (message, channel) => this.#message(session, message, channel))
  }

  #message(session: Session, message: unknown, channel: unknown): void {
    if (this.#session !== session) return
    if (String(channel) === this.#channel) {
      const [token, sequence] = String(message).split(':')
      const beat = Number(sequence)
      // Only this session's beats, and none it has not sent: anything else proves nothing of it.
      if (token !== session.token || !Number.isSafeInteger(beat) || beat < 1 || beat > session.sent) return
      session.received = Math.max(session.received, beat)
      if (!session.live) this.#live(session)
      return
    }
    // No keys: the whole database was flushed.
    if (!Array.isArray(message)) {
      this.#options.tier.drop()
      return
    }
    const { keyPrefix } = this.#options
    const ids: string[] = []
    for (const key of message) {
      const id = idFromKey(this.#options.namespace, String(key).slice(keyPrefix.length))
      // Lock keys (`…!miss`) share the entries' prefix but hold no value the tier keeps.
      if (id !== undefined) ids.push(id)
    }
    this.#options.tier.invalidate(ids)
  }

  /**
   * The first heartbeat came back: the store's connection and this one both work, so the tier opens.
   * (Opening at SUBSCRIBE would serve for a second after a Redis restart that this connection
   * survived reconnecting faster than the store's, then drop everything when the beat sent on the
   * store's dead connection failed to come back.)
   */
  #live(session: Session): void {
    session.live = true
    session.cancelStart()
    this.#failures = 0
    this.#options.tier.open()
  }

  /**
   * Checks that the previous heartbeat came back, then sends the next. The check waits for the event
   * loop to poll for I/O once: after a stall, this timer runs before the reply waiting in the socket
   * is read, and would take a late loop for a lost heartbeat. Until the tier is live, an unanswered
   * beat is only sent again (the start timeout bounds that).
   */
  #beat(session: Session): void {
    setImmediate(() => this.#check(session))
  }

  #check(session: Session): void {
    if (this.#session !== session) return
    if (session.live && session.received < session.sent) {
      this.#lost(session, new Error(`a heartbeat did not come back within ${HEARTBEAT_MS} ms`))
      return
    }
    const sequence = ++session.sent
    // A failed PUBLISH needs no handling of its own: its heartbeat never comes back.
    this.#options.run('publish', (redis) => redis.publish(this.#channel, `${session.token}:${sequence}`)).catch(() => {})
    session.cancelBeat = this.#options.clock.setTimer(HEARTBEAT_MS, () => this.#beat(session))
  }

  #lost(session: Session, error: unknown): void {
    if (this.#session !== session) return
    this.#session = undefined
    this.#options.tier.close()
    session.cancelStart()
    void this.#end(session)
    // Once per outage (a session that went live reset the count): the loss of a connection that was
    // serving, or the first attempt failing (a Redis before 6 refuses CLIENT TRACKING: the tier then
    // never serves, and the user should know why); further failed attempts go to debug.
    if (this.#failures === 0) this.#options.report(new StoreError('local cache tracking', { cause: error }))
    this.#retry(error)
  }

  #retry(error: unknown): void {
    if (this.#closed) return
    const pause = RETRY_MS[Math.min(this.#failures++, RETRY_MS.length - 1)] as number
    debug('local cache tracking down (%s); next attempt in %d ms', error instanceof Error ? error.message : String(error), pause)
    this.#cancelRetry = this.#options.clock.setTimer(pause, () => this.#open())
  }

  async #end(session: Session): Promise<void> {
    session.cancelBeat?.()
    session.cancelStart()
    const disconnect = async (): Promise<void> => {
      try {
        await session.client.disconnect()
      } catch {
        // Already gone.
      }
    }
    // node-redis finishes opening a connection that was disconnected mid-connect, and keeps it: such a
    // one is closed once its connect() settles (in the background, as that may take connectTimeout).
    if (session.opening === undefined) await disconnect()
    else void session.opening.then(disconnect, disconnect)
  }
}
