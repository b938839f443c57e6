/**
 * Handles the response to a forwarded request: passes every hook on to the caller, with the headers
 * `begin` returns (Cache-Status added) and, when the flow decided at response start that the response
 * is stored, tees the body into a bounded recorder. Only a cleanly ended, length-checked body is
 * committed; an error, abort or overflow leaves nothing. Pass-through, unsafe methods and misses all
 * use it; it holds no RFC logic (the flow's `begin` asks policy/).
 */
import type { Dispatcher } from 'undici'
import { CacheError } from '../errors.js'
import type { Downstream } from './downstream.js'
import type { Recorder } from '../recorder.js'

type Headers = Record<string, string | string[] | undefined>

/** What the flow decides at response start. */
export interface ResponseStart {
  /** The headers to pass on (with Cache-Status). */
  readonly headers: Headers
  /** A recorder when the response is stored. */
  readonly recorder?: Recorder | undefined
  /**
   * Work the caller must not see the response before (invalidation, RFC 9111 §4.4): the origin is
   * paused and its events held until it settles. Must not reject.
   */
  readonly hold?: Promise<unknown>
}

export interface ForwardHooks {
  begin(status: number, headers: Headers, statusText: string): ResponseStart
  /** After a clean end, with the whole body, when a recorder was given. Runs after the caller has the end. */
  commit?(body: Uint8Array): void
  /**
   * The response is not stored after all: it outgrew its bounds (said as soon as it does, while the
   * body still streams to the caller), did not complete, or failed (even before it started). Called once.
   */
  discard?(reason: string): void
}

export class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #downstream: Downstream
  readonly #hooks: ForwardHooks
  #recorder: Recorder | undefined
  #source: Dispatcher.DispatchController | undefined
  /** Origin events that arrived while `hold` was pending, replayed in order once it settles. */
  #held: (() => void)[] | undefined
  #started = false

  constructor(downstream: Downstream, hooks: ForwardHooks) {
    this.#downstream = downstream
    this.#hooks = hooks
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // A retry interceptor below us may start the request more than once: follow the newest controller.
    if (this.#source !== undefined) this.#downstream.controller.detach(this.#source)
    this.#source = controller
    this.#downstream.controller.attach(controller)
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Headers, statusText?: string): void {
    // An interim response (102, 103) goes to the caller untouched; the final one is still to come.
    if (status < 200) return this.#downstream.interim(status, headers, statusText ?? '')
    this.#started = true
    const started = this.#hooks.begin(status, headers, statusText ?? '')
    this.#recorder = started.recorder
    const respond = () => this.#downstream.responseStart(status, started.headers, statusText ?? '')
    if (started.hold === undefined) return respond()
    const held: (() => void)[] = (this.#held = [respond])
    controller.pause()
    // Released either way: a hold that failed (it should not) must not keep the caller waiting forever.
    const release = (): void => {
      this.#held = undefined
      for (const event of held) event()
      if (!this.#downstream.controller.paused) controller.resume()
    }
    started.hold.then(release, release)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#held !== undefined) return void this.#held.push(() => this.onResponseData(controller, chunk))
    const recorder = this.#recorder
    if (recorder !== undefined) {
      recorder.push(chunk)
      if (!recorder.recording) {
        // Given up: nothing will be stored, so whoever waits for the entry need not wait for the end.
        this.#recorder = undefined
        this.#hooks.discard?.(recorder.failure ?? 'abandoned')
      }
    }
    this.#downstream.data(chunk)
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Headers): void {
    if (this.#held !== undefined) return void this.#held.push(() => this.onResponseEnd(controller, trailers))
    const recorder = this.#recorder
    this.#recorder = undefined
    this.#downstream.controller.detach(controller)
    // The caller aborted or its handler threw: what we hold may be complete but was not delivered.
    const delivered = !this.#downstream.controller.aborted
    this.#downstream.end(trailers)
    if (recorder === undefined) return
    if (!delivered) return this.#hooks.discard?.('aborted')
    const result = recorder.finish()
    if (result.complete) this.#hooks.commit?.(result.body)
    else this.#hooks.discard?.(result.reason)
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#held !== undefined) return void this.#held.push(() => this.onResponseError(controller, error))
    // Before the response started nobody has been told yet; after, only a recorder still recording has not.
    if (this.#recorder !== undefined || !this.#started) this.#hooks.discard?.('error')
    this.#recorder?.abandon()
    this.#recorder = undefined
    this.#downstream.controller.detach(controller)
    this.#downstream.error(error)
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController): void {
    // Upgrades are never routed here (the interceptor passes them through); refuse rather than hang.
    controller.abort(new CacheError('unexpected upgrade on a forwarded request'))
  }
}
