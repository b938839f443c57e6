/**
 * The life of RedisStore's connection: its own client's bounds, listeners attached before connecting,
 * readiness, commands that fail fast instead of queueing, and a bounded close. The commands
 * themselves, and the node-redis majors, are redis-commands.ts's.
 *
 * DESIGN.md "Failure model": without an 'error' listener node-redis crashes the process when Redis
 * goes away, so ours is attached before connect(), also to a borrowed client. connect() can stay
 * pending forever (wrong password, TLS mismatch), so it is never awaited. A command sent before the
 * client's first connect attempt has settled waits for it (issue 11: startup is quiet, the first
 * request finds Redis up rather than reporting "not connected"); once the client has been ready, or
 * has reported an error, commands fail fast with StoreError while it is not ready. node-redis v4 has
 * no command timeout: cache()'s calls are bounded by its own (guarded-store.ts), that wait included,
 * and the admin API's here by the store's commandTimeout (runBounded: StoreTimeoutError; the command
 * goes on and its answer is dropped), so an admin call on a hung Redis fails instead of hanging.
 */
import { Deadline, Deadlines, type CancelTimer, type Clock } from '../clock.js'
import { StoreError, StoreTimeoutError } from '../errors.js'
import type { RedisCommands } from './redis-driver.js'

/** How long close() lets the store's own commands finish before it drops the connection. */
const CLOSE_GRACE_MS = 1000
/**
 * Longest a command waits for the first connect attempt (node-redis's default connectTimeout). Only a
 * first attempt that neither succeeds nor fails (a server that accepts and never answers AUTH) lasts
 * that long; callers bound their own wait sooner (the commandTimeouts).
 */
const STARTUP_WAIT_MS = 5000

export class RedisConnection {
  readonly #redis: RedisCommands
  /** The store created the client, so it closes it; a borrowed one is left open. */
  readonly #owned: boolean
  /** Times ready()'s wait and close()'s grace. */
  readonly #clock: Clock
  /** A deadline for each call under way, `commandTimeout` from its start. */
  readonly #deadlines: Deadlines
  /** Commands sent and not settled yet: close() lets them finish first. A count, not a set: it is on every hit's path. */
  #inFlight = 0
  /** Set while close() waits for #inFlight to reach 0. */
  #drained: (() => void) | undefined
  #lastError: unknown
  #closing: Promise<void> | undefined
  /**
   * Settles once the first connect attempt has: the client was ready, reported an error, or the store
   * closed. Undefined from then on (and from the start for a client that was ready already).
   */
  #starting: { readonly settled: Promise<void>; readonly settle: () => void; readonly cancel: CancelTimer } | undefined

  // Kept as fields so close() can detach them from a borrowed client.
  readonly #onError = (error: unknown): void => {
    this.#lastError = error
    this.#started()
  }
  readonly #onReady = (): void => {
    this.#lastError = undefined
    this.#started()
  }

  constructor(redis: RedisCommands, options: { readonly owned: boolean; readonly unref: boolean; readonly clock: Clock; readonly commandTimeout: number }) {
    this.#redis = redis
    this.#owned = options.owned
    this.#clock = options.clock
    this.#deadlines = new Deadlines(options.clock, options.commandTimeout)
    redis.on('error', this.#onError)
    redis.on('ready', this.#onReady)
    if (options.unref) redis.unref()
    if (!redis.isReady) {
      let settle = (): void => {}
      const settled = new Promise<void>((resolve) => {
        settle = resolve
      })
      this.#starting = { settled, settle, cancel: this.#clock.setTimer(STARTUP_WAIT_MS, () => this.#started()) }
    }
    if (!redis.isOpen) redis.connect().catch(this.#onError)
  }

  /** Whether commands can go out now; while false, run() fails fast with StoreError. */
  get isReady(): boolean {
    return this.#closing === undefined && this.#redis.isReady
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closing !== undefined
  }

  /** Resolves once the client is ready; rejects with StoreError after `timeoutMs` or once closed. */
  ready(timeoutMs: number): Promise<void> {
    if (this.#closing !== undefined) {
      return Promise.reject(new StoreError('connect', { cause: new Error('the store is closed') }))
    }
    if (this.#redis.isReady) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const onReady = (): void => {
        cancel()
        this.#redis.off('ready', onReady)
        resolve()
      }
      const cancel = this.#clock.setTimer(timeoutMs, () => {
        this.#redis.off('ready', onReady)
        const cause = this.#lastError ?? new Error(`the Redis client was not ready within ${timeoutMs} ms`)
        reject(new StoreError('connect', { cause }))
      })
      this.#redis.on('ready', onReady)
    })
  }

  /**
   * Runs one command batch. Before the first connect attempt has settled it waits for it; after, it
   * fails fast when the client cannot take commands now. Unbounded: for the calls cache() makes
   * (GuardedStore bounds them with its own budgets) and the background ones that must not be given up
   * while they may still land (the counter flush).
   */
  run<T>(operation: string, command: (redis: RedisCommands) => Promise<T>): Promise<T> {
    if (this.#starting !== undefined && this.#closing === undefined && !this.#redis.isReady) {
      return this.#starting.settled.then(() => this.#send(operation, command))
    }
    return this.#send(operation, command)
  }

  /**
   * run() within commandTimeout, else StoreTimeoutError: for the admin API, whose calls nobody else
   * bounds. Each is a read or a removal, so one that lands after its caller gave up does no harm.
   */
  runBounded<T>(operation: string, command: (redis: RedisCommands) => Promise<T>): Promise<T> {
    const sent = this.run(operation, command)
    return new Promise((resolve, reject) => new PendingRun(operation, this.#deadlines, resolve, reject).await(sent))
  }

  /**
   * One promise reaction per call, not an async function's several: this runs for every store call.
   * Never throws; every failure is a rejection with StoreError.
   */
  #send<T>(operation: string, command: (redis: RedisCommands) => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) {
      return Promise.reject(new StoreError(operation, { cause: new Error('the store is closed') }))
    }
    if (!this.#redis.isReady) {
      return Promise.reject(new StoreError(operation, { cause: this.#lastError ?? new Error('the Redis client is not connected') }))
    }
    let promise: Promise<T>
    try {
      // Promise.resolve hands a native promise back as it is; anything else a command returns is wrapped.
      promise = Promise.resolve(command(this.#redis))
    } catch (error) {
      promise = Promise.reject(error)
    }
    this.#inFlight++
    return promise.then(
      (value) => {
        this.#settled()
        return value
      },
      (error: unknown) => {
        this.#settled()
        throw new StoreError(operation, { cause: error })
      },
    )
  }

  #settled(): void {
    if (--this.#inFlight === 0) this.#drained?.()
  }

  /** Resolves once no command is in flight. */
  #idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const previous = this.#drained
      this.#drained = () => {
        previous?.()
        resolve()
      }
    })
  }

  /**
   * Refuses new commands, lets pending ones (`last` included: the store's final flush, started before
   * this call) finish for up to 1 s on the clock, then drops an own client's connection; a borrowed client only
   * loses our listeners. Idempotent.
   *
   * Not QUIT: in node-redis v4 a QUIT that gets no reply (paused server) cannot be abandoned, since
   * quit() marks the socket closed first and a later disconnect() then throws ClientClosedError and
   * leaves the socket open.
   */
  close(last: Promise<void> = Promise.resolve()): Promise<void> {
    this.#closing ??= this.#shutdown(last)
    // Calls still waiting for the first connect fail now, as a closed store's calls do.
    this.#started()
    return this.#closing
  }

  /** The first connect attempt settled (or the store closed): calls stop waiting for it. */
  #started(): void {
    this.#starting?.cancel()
    this.#starting?.settle()
    this.#starting = undefined
  }

  async #shutdown(last: Promise<void>): Promise<void> {
    await settleWithin([this.#idle(), last], CLOSE_GRACE_MS, this.#clock)
    if (!this.#owned) {
      this.#redis.off('error', this.#onError)
      this.#redis.off('ready', this.#onReady)
      return
    }
    if (!this.#redis.isOpen) return
    // An own client's disconnect first lets a connect under way end (ownClient, ownCluster): bounded
    // by connectTimeout, and not awaited past the grace (a host that drops SYNs), it goes on after.
    await settleWithin([this.#disconnect()], CLOSE_GRACE_MS, this.#clock)
  }

  async #disconnect(): Promise<void> {
    try {
      await this.#redis.disconnect()
    } catch {
      // Already closed by node-redis itself (reconnect strategy gave up): nothing left to release.
    }
  }
}

/** One call under way: settles as its commands do, or with StoreTimeoutError once its deadline passes. */
class PendingRun<T> extends Deadline {
  constructor(
    readonly operation: string,
    readonly deadlines: Deadlines,
    readonly resolve: (value: T) => void,
    readonly reject: (error: unknown) => void,
  ) {
    super()
  }

  await(sent: Promise<T>): void {
    this.deadlines.add(this)
    sent.then(
      (value) => (this.deadlines.remove(this), this.resolve(value)),
      (error: unknown) => (this.deadlines.remove(this), this.reject(error)),
    )
  }

  expire(): void {
    this.reject(new StoreTimeoutError(this.operation, this.deadlines.ms))
  }
}

/** Waits for every promise to settle, or for `ms` on `clock`, whichever comes first; never rejects. */
async function settleWithin(promises: readonly Promise<unknown>[], ms: number, clock: Clock): Promise<void> {
  let cancel: CancelTimer | undefined
  const deadline = new Promise<void>((resolve) => {
    cancel = clock.setTimer(ms, resolve)
  })
  await Promise.race([Promise.allSettled(promises), deadline])
  cancel?.()
}
