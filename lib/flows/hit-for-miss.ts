/**
 * Hit-for-miss, as Varnish calls it: for a short while after a URL's response was not stored (no-store,
 * Set-Cookie, a 404 or 500 without freshness, too large), its misses go straight to the origin instead
 * of collapsing behind one another (collapse.ts). A follower of such a URL would wait a whole origin
 * round trip only to be told to make its own. A storable response for the URL ends it early.
 * Varnish: bin/varnishd/builtin.vcl, vcl_backend_response (`beresp.uncacheable`, "Hit-For-Miss for the
 * next 2 minutes"); the default here is shorter, since a URL's cacheability can change with a deploy.
 */

/** How long a "not stored" verdict is remembered, in milliseconds. */
export const HIT_FOR_MISS_MS = 30_000

/** How many URLs are remembered at most; past that the oldest verdict is forgotten first. */
export const HIT_FOR_MISS_MAX_SIZE = 10_000

/** Primary ids (key.ts) whose last response was not stored, each with the time its verdict lapses. */
export class HitForMiss {
  readonly #ttlMs: number
  readonly #maxSize: number
  /** Insertion order is marking order: with one TTL for all, the first is also the first to lapse. */
  readonly #until = new Map<string, number>()

  constructor(ttlMs = HIT_FOR_MISS_MS, maxSize = HIT_FOR_MISS_MAX_SIZE) {
    this.#ttlMs = ttlMs
    this.#maxSize = maxSize
  }

  /** Remembers that `id`'s response was not stored, as of `now` (ms, the cache's clock). */
  mark(id: string, now: number): void {
    this.#until.delete(id)
    this.#until.set(id, now + this.#ttlMs)
    if (this.#until.size > this.#maxSize) this.#until.delete(this.#until.keys().next().value!)
  }

  /** Whether misses for `id` should skip collapsing at `now`; a lapsed verdict is dropped. */
  holds(id: string, now: number): boolean {
    const until = this.#until.get(id)
    if (until === undefined) return false
    if (until > now) return true
    this.#until.delete(id)
    return false
  }

  /** A response for `id` is being stored: collapse again. */
  clear(id: string): void {
    this.#until.delete(id)
  }

  get size(): number {
    return this.#until.size
  }
}
