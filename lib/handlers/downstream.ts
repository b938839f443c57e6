/**
 * The caller's side of one request. The caller's handler gets exactly one controller and one
 * onRequestStart, whatever the cache does behind it (look up, replay, forward, revalidate, fall back
 * to stale), and never a callback after its response ended or failed.
 */
import type { Dispatcher } from 'undici'
import { toRawHeaders } from '../headers.js'

/** Whatever currently produces the response: the origin's controller or a replay. */
export interface ResponseSource {
  pause(): void
  resume(): void
  abort(reason: Error): void
}

type Handler = Dispatcher.DispatchHandler
type Headers = Record<string, string | string[] | undefined>

/**
 * The controller the caller holds; forwards to the current source and remembers state for the next one.
 * Like undici's own controllers it carries the response's `rawHeaders` and `rawTrailers`: undici 8's
 * fetch builds its Headers from `rawHeaders` alone, so without them a response reaches fetch with no
 * headers at all. They are built from what the caller was handed (Cache-Status and Age included), on
 * first read, so callers that never look pay nothing.
 */
export class CallerController implements Dispatcher.DispatchController {
  #source: ResponseSource | undefined
  #paused = false
  #aborted = false
  #reason: Error | null = null
  #abortListeners: ((reason: Error) => void)[] | undefined
  #headers: Headers | undefined
  #trailers: Headers | undefined
  #rawHeaders: Buffer[] | string[] | null | undefined
  #rawTrailers: Buffer[] | string[] | null | undefined

  get rawHeaders(): Buffer[] | string[] | null {
    if (this.#rawHeaders === undefined && this.#headers !== undefined) this.#rawHeaders = toRawHeaders(this.#headers)
    return this.#rawHeaders ?? null
  }
  set rawHeaders(value: Buffer[] | string[] | null) {
    this.#rawHeaders = value
  }
  get rawTrailers(): Buffer[] | string[] | null {
    if (this.#rawTrailers === undefined && this.#trailers !== undefined) this.#rawTrailers = toRawHeaders(this.#trailers)
    return this.#rawTrailers ?? null
  }
  set rawTrailers(value: Buffer[] | string[] | null) {
    this.#rawTrailers = value
  }

  /** The headers the caller is about to receive; `rawHeaders` is derived from them. */
  headersSent(headers: Headers): void {
    this.#headers = headers
    this.#rawHeaders = undefined
  }

  /** The trailers the caller is about to receive; `rawTrailers` is derived from them. */
  trailersSent(trailers: Headers): void {
    this.#trailers = trailers
    this.#rawTrailers = undefined
  }

  get aborted(): boolean {
    return this.#aborted
  }
  get paused(): boolean {
    return this.#paused
  }
  get reason(): Error | null {
    return this.#reason
  }

  /** Makes `source` the target of pause/resume/abort, bringing it up to the caller's state. */
  attach(source: ResponseSource): void {
    this.#source = source
    if (this.#aborted) source.abort(this.#reason!)
    else if (this.#paused) source.pause()
  }

  detach(source: ResponseSource): void {
    if (this.#source === source) this.#source = undefined
  }

  abort(reason: Error): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#source?.abort(reason)
    const listeners = this.#abortListeners
    this.#abortListeners = undefined
    for (const listener of listeners ?? []) listener(reason)
  }

  /**
   * Tells `listener` when the caller aborts (at once if it has), for a flow that waits with no source
   * attached, such as a collapsed request waiting for its leader. Returns a function that unregisters it.
   */
  onAbort(listener: (reason: Error) => void): () => void {
    if (this.#aborted) {
      listener(this.#reason!)
      return () => {}
    }
    const listeners = (this.#abortListeners ??= [])
    listeners.push(listener)
    return () => {
      const index = listeners.indexOf(listener)
      if (index !== -1) listeners.splice(index, 1)
    }
  }

  pause(): void {
    this.#paused = true
    this.#source?.pause()
  }

  resume(): void {
    this.#paused = false
    this.#source?.resume()
  }
}

/** Wraps the caller's handler: one start, one end or error, and a throwing callback becomes an abort. */
export class Downstream {
  readonly controller = new CallerController()
  readonly #handler: Handler
  #state: 'idle' | 'started' | 'responding' | 'done' = 'idle'

  constructor(handler: Handler) {
    this.#handler = handler
  }

  get done(): boolean {
    return this.#state === 'done'
  }

  get responding(): boolean {
    return this.#state === 'responding'
  }

  start(context: unknown): void {
    if (this.#state !== 'idle') return
    this.#state = 'started'
    try {
      this.#handler.onRequestStart?.(this.controller, context)
    } catch (err) {
      this.#fail(err)
    }
  }

  /**
   * An interim (1xx) response from the origin, passed on as it came (RFC 9110 §15.2: a proxy forwards
   * them), before the final one; undici hands those to the caller's handler through onResponseStart too.
   */
  interim(status: number, headers: Headers, statusText: string): void {
    if (this.#state !== 'started') return
    this.controller.headersSent(headers)
    const paused = this.controller.paused
    try {
      this.#handler.onResponseStart?.(this.controller, status, headers, statusText)
    } catch (err) {
      this.#fail(err)
    }
    // undici's fetch asks for a pause in answer to every interim response and never resumes it; undici
    // itself ignores that pause (client-h1). So does the cache: kept, it would hold a response replayed
    // from the store after a 304 forever.
    if (!paused && this.controller.paused && !this.controller.aborted) this.controller.resume()
  }

  responseStart(status: number, headers: Headers, statusText: string): void {
    if (this.#state !== 'started') return
    this.#state = 'responding'
    this.controller.headersSent(headers)
    try {
      this.#handler.onResponseStart?.(this.controller, status, headers, statusText)
    } catch (err) {
      this.#fail(err)
    }
  }

  data(chunk: Buffer): void {
    if (this.#state !== 'responding') return
    try {
      this.#handler.onResponseData?.(this.controller, chunk)
    } catch (err) {
      this.#fail(err)
    }
  }

  end(trailers: Headers): void {
    if (this.#state !== 'responding') return
    this.#state = 'done'
    this.controller.trailersSent(trailers)
    try {
      this.#handler.onResponseEnd?.(this.controller, trailers)
    } catch (err) {
      // The response already ended, so nothing is left to abort; report to the handler as undici's
      // own cache does rather than throwing from a later tick.
      this.#deliverError(err)
    }
  }

  error(err: unknown): void {
    if (this.#state === 'done') return
    this.#state = 'done'
    this.#deliverError(err)
  }

  #fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err))
    // Aborting makes the source report the error back through error(); if no source is attached yet
    // the caller gets it directly.
    this.controller.abort(error)
    this.error(error)
  }

  #deliverError(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err))
    try {
      this.#handler.onResponseError?.(this.controller, error)
    } catch {
      // A handler that throws from onResponseError has nowhere left to report to.
    }
  }
}
