/**
 * Finishes a replay whose stored body broke mid-stream (Redis died, a chunk failed its checksum) by
 * fetching the rest from the origin: `Range: bytes=<offset>-` with `If-Range` (RFC 9110 §14.2,
 * §13.1.5), so the origin sends the remaining bytes only if its representation is the one already
 * half sent. A 206 whose Content-Range starts where the replay stopped is passed on; anything else
 * (a 200 means the representation changed) ends the response with an error, never spliced bytes.
 */
import type { Dispatcher } from 'undici'
import { BodyReadError } from '../errors.js'
import type { Downstream } from './downstream.js'

type Headers = Record<string, string | string[] | undefined>

export class ResumeHandler implements Dispatcher.DispatchHandler {
  readonly #downstream: Downstream
  readonly #offset: number
  readonly #size: number
  #accepted = false

  constructor(downstream: Downstream, offset: number, size: number) {
    this.#downstream = downstream
    this.#offset = offset
    this.#size = size
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#downstream.controller.attach(controller)
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Headers): void {
    // An interim response (102, 103): the caller's response began long ago, and the 206 is still to come.
    if (status < 200) return
    const range = typeof headers['content-range'] === 'string' ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headers['content-range']) : null
    this.#accepted = status === 206 && range !== null && Number(range[1]) === this.#offset && (range[3] === '*' || Number(range[3]) === this.#size)
    if (!this.#accepted) controller.abort(new BodyReadError(this.#offset, status))
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#accepted) this.#downstream.data(chunk)
  }

  onResponseEnd(controller: Dispatcher.DispatchController): void {
    this.#downstream.controller.detach(controller)
    this.#downstream.end({})
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.#downstream.controller.detach(controller)
    this.#downstream.error(error)
  }
}
