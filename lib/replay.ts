/**
 * Serves a stored response into the caller's handler as a stream: headers first, then the body in
 * chunks that honour the caller's pause/resume, then the end. An inline body is handed out as views
 * of the stored bytes (no copy, no waiting); an external body is read from the store one chunk ahead
 * of the caller, so memory per hit stays near two chunks whatever the body's size.
 */
import type { BodySource } from './body-source.js'
import { BodyReadError } from './errors.js'
import type { Downstream, ResponseSource } from './handlers/downstream.js'

/**
 * Called when a chunk cannot be read after the response started, with the bytes sent so far; returns
 * true when it takes the response over (finishing it from elsewhere), false to abort it.
 */
export type BodyFailure = (sent: number) => boolean

export class Replay implements ResponseSource {
  readonly #downstream: Downstream
  readonly #source: BodySource
  readonly #onFailure: BodyFailure | undefined
  #index = 0
  #sent = 0
  /** The read of chunk #index, started while the previous chunk was being delivered. */
  #ahead: Promise<Buffer | undefined> | undefined
  #paused = false
  #pumping = false
  #waiting = false
  #finished = false

  /** `source` EMPTY_SOURCE (body-source.ts) sends no body. */
  constructor(downstream: Downstream, source: BodySource, onFailure?: BodyFailure) {
    this.#downstream = downstream
    this.#source = source
    this.#onFailure = onFailure
  }

  start(status: number, statusText: string, headers: Record<string, string | string[]>): void {
    const downstream = this.#downstream
    downstream.controller.attach(this)
    if (downstream.done) return
    downstream.responseStart(status, headers, statusText)
    this.#pump()
  }

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    // Resume may be called from inside a data callback; continue on a later tick, not re-entrantly.
    if (!this.#pumping && !this.#waiting) setImmediate(() => this.#pump())
  }

  abort(reason: Error): void {
    if (this.#finished) return
    this.#finished = true
    this.#downstream.controller.detach(this)
    this.#downstream.error(reason)
  }

  #pump(): void {
    if (this.#finished || this.#waiting) return
    this.#pumping = true
    const source = this.#source
    while (this.#index < source.chunks && !this.#paused && !this.#finished) {
      const pending = this.#ahead ?? source.read(this.#index)
      this.#ahead = undefined
      if (pending instanceof Promise) {
        this.#waiting = true
        // A read that rejects (BodySource reads should not) counts as an unreadable chunk.
        pending.then(
          (chunk) => {
            this.#waiting = false
            if (this.#deliver(chunk)) this.#pump()
          },
          () => {
            this.#waiting = false
            this.#deliver(undefined)
          },
        )
        break
      }
      if (!this.#deliver(pending)) break
    }
    this.#pumping = false
    if (this.#finished || this.#paused || this.#waiting) return
    if (this.#index >= source.chunks) {
      this.#finished = true
      this.#downstream.controller.detach(this)
      this.#downstream.end({})
    }
  }

  /** Hands one chunk to the caller and starts reading the next; false when the response cannot go on. */
  #deliver(chunk: Buffer | undefined): boolean {
    if (this.#finished) return false
    if (chunk === undefined) {
      this.#finished = true
      this.#downstream.controller.detach(this)
      if (this.#onFailure?.(this.#sent) !== true) {
        this.#downstream.error(new BodyReadError(this.#sent))
      }
      return false
    }
    this.#index++
    this.#sent += chunk.byteLength
    if (this.#source.readAhead && this.#index < this.#source.chunks) {
      const next = this.#source.read(this.#index)
      this.#ahead = next instanceof Promise ? next : Promise.resolve(next)
    }
    this.#downstream.data(chunk)
    if (this.#downstream.done) this.#finished = true
    return !this.#finished
  }
}
