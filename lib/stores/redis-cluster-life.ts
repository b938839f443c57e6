/**
 * The life of a node-redis cluster client, as RedisConnection expects a client's (redis-connection.ts):
 * what the cluster clients of node-redis 4, 5 and 6 lack next to a lone client, made up here for the
 * cluster driver (redis-cluster-commands.ts). Measured with 4.7.1, 5.12.1 and 6.3.1 against Redis 7:
 * - No 'ready' event (v4 and v5 have no isReady either): isReady is derived from the slot map and
 *   the masters' connections, and a 'ready' listener is called when it turns true, polled every
 *   WATCH_MS while anyone listens (a borrowed cluster its owner connects; every master back).
 * - No retry of a failed discovery: connect() rejects once and the client stays closed. Retried
 *   here every 100 ms to 2 s while anyone listens, as a lone client's reconnect strategy does.
 * - No unref(): the node clients are unrefed, those a topology change opens later too (polled).
 * - v4 reloads its slot map only on a MOVED or ASK reply. After a master is lost, the commands for its
 *   slots go on to its client and nothing gets a MOVED: they fail fast once its connection is reset
 *   (a killed process), or get no reply at all while it is stopped (SIGSTOP, a hung host: node-redis
 *   has no command timeout). When a command fails other than by a Redis reply (or with CLUSTERDOWN,
 *   TRYAGAIN: refreshAfter()), or has been in flight for STALL_MS (the poll looks at the oldest), a
 *   probe goes out without a routing key, which the client sends to the next node of its rotation; a
 *   node that does not serve the probe's key replies MOVED, on which the client reloads the map,
 *   taking in the promoted replica and dropping the lost master (whose pending commands then fail).
 * - v5 and v6 report a node's connection errors as 'node-error', v4 as 'error'.
 */

/** How often the ready poll runs, and the unref of node clients opened since. */
const WATCH_MS = 200
/** Least time between two slot-map probes: failures come in bursts while a node is down. */
const PROBE_INTERVAL_MS = 250
/** A command this long in flight may be stuck on a master that stopped answering: probe the map. */
const STALL_MS = 500
/** How long one probe waits for its node, which may be the one that stopped answering, before the next. */
const PROBE_TIMEOUT_MS = 500

type Listener = (error?: unknown) => void

/** A node of the slot map, as each major's cluster client lists it. */
export interface ClusterNode {
  readonly address?: string
  /** Its client once created; before, node-redis holds the promise of one. */
  readonly client?: unknown
}

/** A node-redis cluster client, typed loosely: the driver knows what it passes and gets. */
export interface Cluster {
  readonly isOpen: boolean
  readonly masters: readonly ClusterNode[]
  readonly replicas?: readonly ClusterNode[]
  /** v6: the cluster's keyPrefix. */
  readonly _keyPrefix?: unknown
  connect(): Promise<unknown>
  disconnect(): Promise<unknown>
  destroy?(): unknown
  nodeClient(node: ClusterNode): unknown
  on(event: string, listener: Listener): unknown
  off(event: string, listener: Listener): unknown
  sendCommand(firstKey: string | undefined, isReadonly: boolean, args: string[], options?: { returnBuffers: true }): Promise<unknown>
}

export class ClusterLife {
  readonly #cluster: Cluster
  /** v5 and v6 (destroy(), 'node-error'). */
  readonly #modern: boolean
  readonly #readyListeners = new Set<Listener>()
  readonly #errorListeners = new Set<Listener>()
  #retry: NodeJS.Timeout | undefined
  #retries = 0
  #watching: NodeJS.Timeout | undefined
  #wasReady = false
  #unref = false
  /** disconnect() was called: a discovery still under way must not schedule another. */
  #stopped = false
  /** The discovery under way, which disconnect() lets finish: node-redis would open its clients after. */
  #connecting: Promise<unknown> | undefined
  #probing = false
  #probedAt = -Infinity
  /** Commands in flight by the key they went to, oldest first (a Map keeps insertion order). */
  readonly #inFlight = new Map<object, { readonly key: string; readonly at: number }>()

  constructor(cluster: Cluster, modern: boolean) {
    this.#cluster = cluster
    this.#modern = modern
  }

  /** Open, or connecting: a failed discovery is retried (as a lone client's reconnects keep it open). */
  get isOpen(): boolean {
    return this.#cluster.isOpen || this.#retry !== undefined
  }

  /**
   * The slot map is known and not every master's connection is down: commands for the slots of a
   * master that is down fail one by one (its client is offline) while the others go on.
   */
  get isReady(): boolean {
    const masters = this.#cluster.masters
    if (!this.#cluster.isOpen || masters.length === 0) return false
    return masters.some((node) => !isNodeClient(node.client) || node.client.isReady)
  }

  connect(): Promise<unknown> {
    this.#stopped = false
    return this.#attempt()
  }

  #attempt(): Promise<unknown> {
    const attempt = this.#cluster.connect().then(() => {
      this.#retries = 0
      this.#unrefNodes()
      this.#checkReady()
    })
    const settled = (): void => {
      if (this.#connecting === attempt) this.#connecting = undefined
    }
    this.#connecting = attempt
    // The cluster reports each root node that failed as 'error'; the caller gets the first rejection.
    attempt.then(settled, () => {
      settled()
      this.#retryLater()
    })
    return attempt
  }

  /**
   * Closes every node client. A discovery under way is let finish first (bounded by the nodes'
   * connectTimeout): node-redis would open the clients of the slot map it gets after this call, and
   * keep them, reconnecting, for good.
   */
  disconnect(): Promise<unknown> {
    this.#stopped = true
    this.#stop()
    const connecting = this.#connecting
    if (connecting !== undefined) return connecting.then(() => this.#close(), () => this.#close())
    return this.#close()
  }

  #close(): Promise<unknown> {
    if (!this.#cluster.isOpen) return Promise.resolve()
    // destroy() since v5 (disconnect() is deprecated), dropping pending commands alike.
    return this.#modern && this.#cluster.destroy !== undefined ? Promise.resolve(this.#cluster.destroy()) : this.#cluster.disconnect()
  }

  on(event: 'error' | 'ready', listener: Listener): void {
    if (event === 'ready') {
      this.#readyListeners.add(listener)
      this.#wasReady = this.isReady
      this.#watch()
      return
    }
    this.#errorListeners.add(listener)
    this.#cluster.on('error', listener)
    if (this.#modern) this.#cluster.on('node-error', listener)
  }

  off(event: 'error' | 'ready', listener: Listener): void {
    if (event === 'ready') this.#readyListeners.delete(listener)
    else {
      this.#errorListeners.delete(listener)
      this.#cluster.off('error', listener)
      if (this.#modern) this.#cluster.off('node-error', listener)
    }
    // Nobody listens any more (the store closed over a borrowed cluster): the background work stops.
    if (!this.#listened()) this.#stop()
  }

  /** Unrefs every node client now and, through the poll, those a topology change opens later. */
  unref(): void {
    this.#unref = true
    this.#unrefNodes()
  }

  /**
   * After a command on `key` failed with `error`: probes for a new slot map when the failure says a
   * node may be gone (see the header), at most once per PROBE_INTERVAL_MS.
   */
  refreshAfter(error: unknown, key: string | undefined): void {
    // A Redis reply says the node is there, unless it says the cluster is changing.
    const nodeAnswered = isReply(error) && !/^(CLUSTERDOWN|TRYAGAIN)/.test(error.message)
    if (key !== undefined && !nodeAnswered) this.#refresh(key)
  }

  /** Notes a command sent on `key` (as the cluster sees it); the function returned notes that it settled. */
  sent(key: string | undefined): () => void {
    if (key === undefined) return () => {}
    const token = {}
    this.#inFlight.set(token, { key, at: Date.now() })
    return () => this.#inFlight.delete(token)
  }

  #refresh(key: string): void {
    const now = Date.now()
    if (this.#probing || now - this.#probedAt < PROBE_INTERVAL_MS) return
    this.#probing = true
    this.#probedAt = now
    void this.#probe(key).finally(() => {
      this.#probing = false
    })
  }

  /** Up to one probe per master: the first ones may reach the lost master, offline or silent. */
  async #probe(key: string): Promise<void> {
    for (let attempt = 0; attempt < Math.max(1, this.#cluster.masters.length); attempt++) {
      const reply = this.#cluster.sendCommand(undefined, true, ['EXISTS', key]).then(
        () => 'answered',
        // A reply (MOVED past the redirection limit included) means a live node answered: the map is reloaded.
        (error: unknown) => (isReply(error) ? 'answered' : 'failed'),
      )
      let cancel: NodeJS.Timeout | undefined
      const silent = new Promise<string>((resolve) => {
        cancel = setTimeout(() => resolve('silent'), PROBE_TIMEOUT_MS)
        cancel.unref()
      })
      const outcome = await Promise.race([reply, silent])
      clearTimeout(cancel)
      if (outcome === 'answered' || !this.#cluster.isOpen) return
    }
  }

  #listened(): boolean {
    return this.#readyListeners.size > 0 || this.#errorListeners.size > 0
  }

  #retryLater(): void {
    if (this.#retry !== undefined || this.#stopped || !this.#listened()) return
    // As redis-connection.ts's reconnect strategy: quickly at first, then every 2 s at most.
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      if (!this.#cluster.isOpen) this.#attempt().catch(() => {})
    }, Math.min(++this.#retries * 100, 2000))
    this.#retry.unref()
  }

  #watch(): void {
    if (this.#watching !== undefined) return
    this.#watching = setInterval(() => {
      this.#unrefNodes()
      this.#checkReady()
      const oldest = this.#inFlight.values().next().value
      if (oldest !== undefined && Date.now() - oldest.at >= STALL_MS) this.#refresh(oldest.key)
    }, WATCH_MS)
    this.#watching.unref()
  }

  #checkReady(): void {
    const ready = this.isReady
    if (ready && !this.#wasReady) for (const listener of [...this.#readyListeners]) listener()
    this.#wasReady = ready
  }

  #unrefNodes(): void {
    if (!this.#unref) return
    for (const node of [...this.#cluster.masters, ...(this.#cluster.replicas ?? [])]) {
      if (isNodeClient(node.client)) node.client.unref?.()
    }
  }

  #stop(): void {
    clearTimeout(this.#retry)
    clearInterval(this.#watching)
    this.#retry = undefined
    this.#watching = undefined
  }
}

/** A node's client once created (before, node-redis holds the promise of one). */
function isNodeClient(client: unknown): client is { readonly isReady: boolean; unref?(): void } {
  return typeof client === 'object' && client !== null && typeof (client as { isReady?: unknown }).isReady === 'boolean'
}

/** A Redis error reply (node-redis ErrorReply, or a subclass, in all three majors), not a failure of the connection. */
function isReply(error: unknown): error is Error {
  if (!(error instanceof Error)) return false
  for (let proto: unknown = Object.getPrototypeOf(error); proto !== null && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'ErrorReply') return true
  }
  return false
}
