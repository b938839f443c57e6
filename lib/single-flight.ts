/**
 * At most one task in flight per id: concurrent callers share the running promise. The one
 * mechanism behind request collapsing (identical misses wait for the leader's origin fetch), background
 * revalidation (RFC 5861 §3 asks for one revalidation, not one per request) and pending writes (a read
 * in this process waits for a write it would otherwise race).
 */
export class SingleFlight<T> {
  readonly #running = new Map<string, Promise<T>>()

  /** Runs `task` unless one is running for `id`; either way returns the running promise. */
  run(id: string, task: () => Promise<T>): Promise<T> {
    const running = this.#running.get(id)
    if (running !== undefined) return running
    const promise = task().finally(() => {
      if (this.#running.get(id) === promise) this.#running.delete(id)
    })
    this.#running.set(id, promise)
    return promise
  }

  /** Registers an already started promise for `id`, replacing any earlier one. */
  track(id: string, promise: Promise<T>): void {
    const tracked = promise.finally(() => {
      if (this.#running.get(id) === tracked) this.#running.delete(id)
    })
    this.#running.set(id, tracked)
  }

  get(id: string): Promise<T> | undefined {
    return this.#running.get(id)
  }

  get size(): number {
    return this.#running.size
  }
}

