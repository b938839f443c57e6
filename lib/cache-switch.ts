/**
 * Turning a cache off for a while without recomposing the dispatcher (requests-cache's
 * `cache_disabled()`): everywhere until switched back on, or only inside one async call tree.
 * interceptor.ts asks `off` once per request, when the request is dispatched; a request already on
 * its way (or a background revalidation) finishes as it began.
 */
import { AsyncLocalStorage } from 'node:async_hooks'

export class CacheSwitch {
  #off = false
  /**
   * Marks the async call trees of disabled(fn). Made on first use: on Node 20 an AsyncLocalStorage
   * that has run once installs async hooks for the whole process, which a cache that is never
   * switched off this way should not pay for (STYLE.md §15).
   */
  #scope: AsyncLocalStorage<true> | undefined

  disable(): void {
    this.#off = true
  }

  enable(): void {
    this.#off = false
  }

  /** Runs `fn` with the cache off for whatever `fn` dispatches, synchronously or after any await. */
  disabled<T>(fn: () => T): T {
    if (typeof fn !== 'function') throw new TypeError(`disabled(fn) expects a function, got ${typeof fn}`)
    this.#scope ??= new AsyncLocalStorage<true>()
    return this.#scope.run(true, fn)
  }

  /** Whether a request dispatched now, from the current async context, goes around the cache. */
  get off(): boolean {
    return this.#off || this.#scope?.getStore() === true
  }
}
