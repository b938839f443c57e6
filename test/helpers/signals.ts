/**
 * Explicit signals for tests that would otherwise sleep and hope: an origin holds a request's answer
 * until the test releases it, the test learns when that request reached the origin, and a test waits
 * for the cache's background writes to finish (they are never awaited by the request that made them).
 * Every wait is bounded, so a signal that never comes fails the test instead of hanging it.
 */
import diagnostics from 'node:diagnostics_channel'
import { channels, type CacheStore } from '../../lib/index.js'
import { eventually } from './client.js'

/** Requests an origin handler holds, by a name the test chooses, until the test releases them. */
export class HeldRequests {
  readonly #answers = new Map<string, () => void>()
  readonly #waiting = new Map<string, Array<() => void>>()

  /** Called by the origin handler: `answer` runs when the test releases `name`. */
  hold(name: string, answer: () => void): void {
    if (this.#answers.has(name)) throw new Error(`a request named ${name} is held already`)
    this.#answers.set(name, answer)
    for (const arrived of this.#waiting.get(name) ?? []) arrived()
    this.#waiting.delete(name)
  }

  /** Resolves once the request `name` is held at the origin; rejects after `timeoutMs`. */
  arrived(name: string, timeoutMs = 5000): Promise<void> {
    if (this.#answers.has(name)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`request ${name} did not reach the origin within ${timeoutMs} ms`)), timeoutMs)
      const waiting = this.#waiting.get(name) ?? []
      waiting.push(() => {
        clearTimeout(timer)
        resolve()
      })
      this.#waiting.set(name, waiting)
    })
  }

  /** Lets the origin answer the held request `name`. */
  release(name: string): void {
    const answer = this.#answers.get(name)
    if (answer === undefined) throw new Error(`no request named ${name} is held`)
    this.#answers.delete(name)
    answer()
  }

  /** Answers whatever is still held (for a finally block, so a failed test leaves no request hanging). */
  releaseAll(): void {
    for (const name of [...this.#answers.keys()]) this.release(name)
  }
}

export interface StoredWatch {
  /** How many saves of a response for `url` have finished (successfully) since the watch began. */
  count(url: string): number
  /** Waits until `n` saves for `url` have finished; throws after `timeoutMs`. */
  until(url: string, n: number, timeoutMs?: number): Promise<void>
  stop(): void
}

/**
 * Counts the cache's finished writes by URL, from the `store` diagnostics channel, which publishes
 * once a save has resolved: the entry, its Vary pointer and any later pointer update all written.
 */
export function watchStored(): StoredWatch {
  const counts = new Map<string, number>()
  const listener = (message: unknown): void => {
    const { url } = message as { url: string }
    counts.set(url, (counts.get(url) ?? 0) + 1)
  }
  diagnostics.subscribe(channels.store.name, listener)
  const count = (url: string): number => counts.get(url) ?? 0
  return {
    count,
    until: (url, n, timeoutMs = 5000) =>
      eventually(() => count(url) >= n, timeoutMs).catch(() => {
        throw new Error(`${count(url)} of ${n} writes for ${url} finished within ${timeoutMs} ms`)
      }),
    stop: () => void diagnostics.unsubscribe(channels.store.name, listener),
  }
}

/**
 * A store that forwards everything to `store` and counts the data calls (get, getRange, set, remove)
 * under way. `idle()` waits until none is: a save the cache has begun (it begins when the response
 * ends, before the caller has read the whole body) has then finished, whether it wrote, updated a
 * pointer or decided to write nothing, since its steps follow each other without a timer between them.
 */
export function trackedStore(store: CacheStore): { readonly store: CacheStore; idle(timeoutMs?: number): Promise<void> } {
  let underWay = 0
  const tracked = new Set<PropertyKey>(['get', 'getRange', 'set', 'remove'])
  const proxy = new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      if (!tracked.has(property)) return value.bind(target)
      return (...args: unknown[]) => {
        underWay++
        let result: Promise<unknown>
        try {
          result = Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args))
        } catch (error) {
          result = Promise.reject(error)
        }
        return result.finally(() => void underWay--)
      }
    },
  })
  return {
    store: proxy,
    idle: async (timeoutMs = 5000) => {
      // Looked at only from a fresh turn of the event loop, once every step already queued has run: in
      // the middle of a save, between one call's end and the next call, the count is 0 too.
      await new Promise((resolve) => setImmediate(resolve))
      await eventually(() => underWay === 0, timeoutMs).catch(() => {
        throw new Error(`${underWay} store calls still under way after ${timeoutMs} ms`)
      })
    },
  }
}
