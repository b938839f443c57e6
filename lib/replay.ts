/**
 * Serves a stored response into the caller's handler as a stream: headers first, then the body in
 * chunks that honour the caller's pause/resume, then the end. Chunks are views of the stored bytes,
 * not copies.
 */
import type { Downstream, ResponseSource } from './handlers/downstream.js'

/** Largest chunk handed to the caller at once, so one huge body does not arrive as one huge Buffer. */
export const REPLAY_CHUNK_SIZE = 64 * 1024

export class Replay implements ResponseSource {
  readonly #downstream: Downstream
  readonly #body: Buffer | undefined
  #offset = 0
  #paused = false
  #pumping = false
  #finished = false

  /** `body` undefined means no body is sent (a HEAD request, RFC 9110 §9.3.2). */
  constructor(downstream: Downstream, body: Uint8Array | undefined) {
    this.#downstream = downstream
    this.#body = body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
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
    if (!this.#pumping) setImmediate(() => this.#pump())
  }

  abort(reason: Error): void {
    if (this.#finished) return
    this.#finished = true
    this.#downstream.controller.detach(this)
    this.#downstream.error(reason)
  }

  #pump(): void {
    if (this.#finished) return
    this.#pumping = true
    const body = this.#body
    const downstream = this.#downstream
    while (body !== undefined && this.#offset < body.byteLength && !this.#paused && !this.#finished) {
      const end = Math.min(this.#offset + REPLAY_CHUNK_SIZE, body.byteLength)
      const chunk = this.#offset === 0 && end === body.byteLength ? body : body.subarray(this.#offset, end)
      this.#offset = end
      downstream.data(chunk)
      if (downstream.done) this.#finished = true
    }
    this.#pumping = false
    if (this.#finished || this.#paused) return
    if (body === undefined || this.#offset >= body.byteLength) {
      this.#finished = true
      downstream.controller.detach(this)
      downstream.end({})
    }
  }
}
