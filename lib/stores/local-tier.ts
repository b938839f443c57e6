/**
 * RedisStore's in-process tier (`localCache`): recently read values kept in this process, bounded by
 * bytes, so a hot entry is served without a round trip. It knows nothing of Redis: redis-tracking.ts
 * opens it while invalidations are known to arrive and closes it the moment that stops being true,
 * and the store asks it before Redis and offers it what Redis answered.
 *
 * Coherence rests on two rules:
 * - A value is only ever served while the tier is open, and closing empties it. Whatever went
 *   unseen while invalidations could not be trusted (a lost connection, a FLUSHDB, a missed
 *   heartbeat) is therefore never served.
 * - A value read from Redis is kept only if no invalidation of its id, and no close, arrived while
 *   the read was under way. The reply and the invalidation travel on two connections, so a reply
 *   holding the old value may reach us after the invalidation of the write that replaced it; the
 *   read's ticket (taken before the command is sent) tells them apart.
 *
 * Values are kept by id, and ranges of a value (external bodies, read by getRange) under their id as
 * well, so invalidating an id drops every range of it. Values are handed out as they are kept (no
 * copy): callers must not modify them, as with MemoryStore (CacheStore.get).
 */
import { LRUCache } from 'lru-cache'

/** Bytes counted for a kept value besides its own: its key and the LRU's bookkeeping, roughly. */
const OVERHEAD_BYTES = 96

export interface LocalTierStats {
  /** Whether invalidations are arriving, so the tier serves (false while reconnecting). */
  readonly live: boolean
  readonly entries: number
  readonly bytes: number
  readonly hits: number
  readonly misses: number
  /** Times the whole tier was emptied: disconnects, flushes, missed heartbeats, clear(). */
  readonly drops: number
}

/** Taken before a read is sent: what the read gets is kept only if the ticket is still good (#settle). */
interface ReadTicket {
  readonly epoch: number
  readonly sequence: number
}

interface InFlight {
  readers: number
  /** The invalidation sequence number of the last invalidation of this id while reads were under way. */
  invalidatedAt: number
}

export class LocalTier {
  readonly #values: LRUCache<string, Uint8Array>
  /** Keys of kept ranges, by the id they belong to, so an invalidation of the id reaches them. */
  readonly #ranges = new Map<string, Set<string>>()
  readonly #inFlight = new Map<string, InFlight>()
  /** Moves on every open and close: a read that spans one keeps nothing. */
  #epoch = 0
  #open = false
  /** Counts invalidations, so a ticket can tell whether one came after it. */
  #sequence = 0
  #nextTurn: Promise<void> | undefined
  #hits = 0
  #misses = 0
  #drops = 0

  constructor(maxSize: number) {
    this.#values = new LRUCache<string, Uint8Array>({
      maxSize,
      sizeCalculation: (value, key) => value.byteLength + key.length + OVERHEAD_BYTES,
      dispose: (_value, key) => this.#forgetRange(key),
    })
  }

  /** Starts serving, empty: called once invalidations are known to arrive. */
  open(): void {
    this.#values.clear()
    this.#epoch++
    this.#open = true
  }

  /** Stops serving and empties the tier, until the next open(). */
  close(): void {
    if (this.#open) this.#drops++
    this.#open = false
    this.#epoch++
    this.#values.clear()
  }

  /** Empties the tier but keeps serving: for a FLUSHDB or clear(), after which invalidations still arrive. */
  drop(): void {
    this.#drops++
    this.#epoch++
    this.#values.clear()
  }

  /** The values of `ids`: those kept from here, the others from `read`, offered to the tier as they come back. */
  async through(ids: readonly string[], read: (missing: readonly string[]) => Promise<(Uint8Array | undefined)[]>): Promise<(Uint8Array | undefined)[]> {
    if (!this.#open) return read(ids)
    await this.#turn()
    if (!this.#open) return read(ids)
    const kept = ids.map((id) => this.#lookup(id))
    const missing = ids.filter((_, index) => kept[index] === undefined)
    if (missing.length === 0) return kept
    const ticket = this.#ticket(missing)
    let values: (Uint8Array | undefined)[] = []
    try {
      values = await read(missing)
    } finally {
      // What the read got per id (nothing when it failed), kept unless spoiled meanwhile.
      for (const [index, id] of missing.entries()) {
        const value = values[index]
        if (this.#settle(ticket, id) && value !== undefined) this.#values.set(id, own(value))
      }
    }
    let next = 0
    return kept.map((value) => value ?? values[next++])
  }

  /** As through(), for `length` bytes of `id` from `offset`. */
  async rangeThrough(id: string, offset: number, length: number, read: () => Promise<Uint8Array | undefined>): Promise<Uint8Array | undefined> {
    if (!this.#open || length === 0) return read()
    // No turn here: ranges are read from bodies stored apart, whose ids are never written twice (a new
    // body gets a new generation), so a range kept is the range Redis holds for as long as the id
    // exists; and a replay that started on a body should finish on it even if the body is deleted.
    const kept = this.#lookup(rangeKey(id, offset, length))
    if (kept !== undefined) return kept
    const ticket = this.#ticket([id])
    let value: Uint8Array | undefined
    try {
      value = await read()
    } finally {
      if (this.#settle(ticket, id) && value !== undefined) this.#keepRange(id, rangeKey(id, offset, length), value)
    }
    return value
  }

  /** `ids` changed in Redis (or are about to, by this process): forget them and spoil reads under way. */
  invalidate(ids: Iterable<string>): void {
    for (const id of ids) {
      this.#sequence++
      const flight = this.#inFlight.get(id)
      if (flight !== undefined) flight.invalidatedAt = this.#sequence
      this.#values.delete(id)
      const ranges = this.#ranges.get(id)
      if (ranges !== undefined) for (const key of [...ranges]) this.#values.delete(key)
    }
  }

  stats(): LocalTierStats {
    return { live: this.#open, entries: this.#values.size, bytes: this.#values.calculatedSize, hits: this.#hits, misses: this.#misses, drops: this.#drops }
  }

  /**
   * Resolves after the event loop has polled for I/O once: whatever the tracking connection received
   * by then (invalidations, a heartbeat) is applied before the tier answers. A hit does no I/O of its
   * own, so a caller chaining hits (an awaited loop) would otherwise keep the loop from ever reading
   * that connection, and serve a deleted entry for as long as the chain lasts. One turn is shared by
   * every read that asks within it, so concurrent hits pay for it once.
   */
  #turn(): Promise<void> {
    this.#nextTurn ??= new Promise((resolve) =>
      setImmediate(() => {
        this.#nextTurn = undefined
        resolve()
      }),
    )
    return this.#nextTurn
  }

  #lookup(key: string): Uint8Array | undefined {
    const value = this.#open ? this.#values.get(key) : undefined
    if (value === undefined) this.#misses++
    else this.#hits++
    return value
  }

  /** Before a read of `ids` is sent (the tier is open): invalidations from now on spoil it. */
  #ticket(ids: readonly string[]): ReadTicket {
    for (const id of ids) {
      const flight = this.#inFlight.get(id)
      if (flight === undefined) this.#inFlight.set(id, { readers: 1, invalidatedAt: 0 })
      else flight.readers++
    }
    return { epoch: this.#epoch, sequence: this.#sequence }
  }

  #keepRange(id: string, key: string, value: Uint8Array): void {
    this.#values.set(key, own(value))
    // lru-cache refuses a value over maxSize; then there is no range to remember.
    if (!this.#values.has(key)) return
    let keys = this.#ranges.get(id)
    if (keys === undefined) this.#ranges.set(id, (keys = new Set()))
    keys.add(key)
  }

  /** Ends the ticket's read of `id`; true when what it got may be kept. */
  #settle(ticket: ReadTicket, id: string): boolean {
    const flight = this.#inFlight.get(id)
    const clean = ticket.epoch === this.#epoch && (flight === undefined || flight.invalidatedAt <= ticket.sequence)
    if (flight !== undefined && --flight.readers === 0) this.#inFlight.delete(id)
    return clean
  }

  #forgetRange(key: string): void {
    const at = key.indexOf('@')
    if (at === -1) return
    const id = key.slice(0, at)
    const keys = this.#ranges.get(id)
    keys?.delete(key)
    if (keys?.size === 0) this.#ranges.delete(id)
  }
}

/**
 * `value` alone in its memory: a view into a larger buffer (a socket read, Buffer's shared pool) would
 * keep all of that alive for as long as the value is kept, unseen by maxSize.
 */
function own(value: Uint8Array): Uint8Array {
  if (value.byteLength === value.buffer.byteLength) return value
  const copy = Buffer.allocUnsafeSlow(value.byteLength)
  copy.set(value)
  return copy
}

/** Ids hold no `@` (redis-layout.ts: hex, `.` and `~`), so a range key never equals an id. */
function rangeKey(id: string, offset: number, length: number): string {
  return `${id}@${offset}+${length}`
}
