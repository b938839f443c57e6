/**
 * Handles the conditional request sent to validate a stale entry (RFC 9111 §4.3.1-§4.3.4).
 * A 304 to the cache's own preconditions, an error status for which stale-if-error allows the stale entry (RFC 5861 §4), and a failure
 * with no response at all go back to the revalidate flow through a callback and never reach the caller
 * as such; any other response continues as a forwarded, recorded response through the handler the
 * revalidate flow supplies (flows/miss.ts). A caller's own abort always reaches the caller as itself.
 */
import type { Dispatcher } from 'undici'
import { CacheError } from '../errors.js'
import type { Downstream } from './downstream.js'

type Headers = Record<string, string | string[] | undefined>

export interface RevalidateHooks {
  /**
   * True when the request carries the caller's own preconditions and none of the cache's: a 304 then
   * answers the caller, not the stored response, and goes on as any other response.
   */
  readonly callersPreconditions: boolean
  /** True when this error status lets the stale entry be served. */
  staleAllowed(status: number): boolean
  /** True when a non-304 response still only freshens the stored one (a 200 to HEAD, RFC 9111 §4.3.5). */
  freshens(status: number, headers: Headers): boolean
  /** The origin answered 304 (or a response that freshens); its status and headers. */
  notModified(headers: Headers, status: number): void
  /** The origin failed and the stale entry may be served instead. */
  serveStale(outcome: number | 'error'): void
  /** No response came at all (connection closed or refused, timeout), and the caller did not abort. */
  unanswered(error: Error): void
  /** Any other response (its status given): the handler that records it and passes it on. */
  forward(status: number): Dispatcher.DispatchHandler
}

export class RevalidateHandler implements Dispatcher.DispatchHandler {
  readonly #downstream: Downstream | undefined
  readonly #hooks: RevalidateHooks
  #mode: 'waiting' | 'not-modified' | 'stale' | 'forward' = 'waiting'
  #delegate: Dispatcher.DispatchHandler | undefined
  #notModifiedHeaders: Headers = {}
  #notModifiedStatus = 304
  #staleOutcome: number | 'error' = 'error'
  #controller: Dispatcher.DispatchController | undefined

  /** `downstream` is undefined for a background revalidation (stale-while-revalidate). */
  constructor(downstream: Downstream | undefined, hooks: RevalidateHooks) {
    this.#downstream = downstream
    this.#hooks = hooks
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#controller = controller
    this.#downstream?.controller.attach(controller)
    if (this.#delegate !== undefined) this.#delegate.onRequestStart?.(controller, context)
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Headers, statusText?: string): void {
    // An interim response (102, 103) goes to the caller, if there is one, untouched; the final one decides.
    if (status < 200) return this.#downstream?.interim(status, headers, statusText ?? '')
    if ((status === 304 && !this.#hooks.callersPreconditions) || this.#hooks.freshens(status, headers)) {
      this.#mode = 'not-modified'
      this.#notModifiedHeaders = headers
      this.#notModifiedStatus = status
      return
    }
    if (this.#hooks.staleAllowed(status)) {
      // Drain the error body (usually small) so the connection can be reused, then serve stale.
      this.#mode = 'stale'
      this.#staleOutcome = status
      return
    }
    this.#mode = 'forward'
    const delegate = (this.#delegate = this.#hooks.forward(status))
    delegate.onRequestStart?.(controller, {})
    delegate.onResponseStart?.(controller, status, headers, statusText)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#mode === 'forward') this.#delegate!.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Headers): void {
    this.#release(controller)
    switch (this.#mode) {
      case 'not-modified':
        return this.#hooks.notModified(this.#notModifiedHeaders, this.#notModifiedStatus)
      case 'stale':
        return this.#hooks.serveStale(this.#staleOutcome)
      case 'forward':
        return this.#delegate!.onResponseEnd?.(controller, trailers)
      case 'waiting':
        return this.#downstream?.error(new CacheError('the revalidation response ended before it started'))
    }
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.#release(controller)
    if (this.#mode === 'forward') return this.#delegate!.onResponseError?.(controller, error)
    // A caller's abort is not an origin failure: never answered with stale content or a 504.
    if (this.#downstream?.controller.aborted === true) return this.#downstream.error(error)
    switch (this.#mode) {
      case 'not-modified':
        // RFC 9110 §15.4.5: a 304 ends with its header section (so does a response to HEAD, §9.3.2), so
        // it arrived whole; the error is about content it cannot have. undici 7 fails a 304 that carries
        // the representation's Content-Length (RFC 9110 §8.6 allows it) for its "missing" body.
        return this.#hooks.notModified(this.#notModifiedHeaders, this.#notModifiedStatus)
      case 'stale':
        return this.#hooks.serveStale(this.#staleOutcome)
      case 'waiting':
        return this.#hooks.unanswered(error)
    }
  }

  #release(controller: Dispatcher.DispatchController): void {
    if (this.#controller === controller) this.#downstream?.controller.detach(controller)
  }
}
