/**
 * A bounded copy of a response body taken while it streams to the caller. It never slows the caller:
 * it only keeps references to chunks, and gives up (dropping them) as soon as the body outgrows
 * `maxSize` or contradicts its Content-Length.
 */
export type RecorderFailure = 'too-large' | 'length-mismatch' | 'abandoned'

export type RecorderResult = { readonly complete: true; readonly body: Uint8Array } | { readonly complete: false; readonly reason: RecorderFailure }

export class Recorder {
  readonly #maxSize: number
  readonly #expectedLength: number | undefined
  #chunks: Buffer[] | undefined = []
  #size = 0
  #failure: RecorderFailure | undefined

  /** `expectedLength` is the response's Content-Length, when it gave a valid one. */
  constructor(maxSize: number, expectedLength: number | undefined) {
    this.#maxSize = maxSize
    this.#expectedLength = expectedLength
    if (expectedLength !== undefined && expectedLength > maxSize) this.#fail('too-large')
  }

  get recording(): boolean {
    return this.#chunks !== undefined
  }

  /** Why it gave up, once it has (before the end, for a body that outgrew its bounds). */
  get failure(): RecorderFailure | undefined {
    return this.#failure
  }

  push(chunk: Buffer): void {
    if (this.#chunks === undefined) return
    this.#size += chunk.byteLength
    if (this.#size > this.#maxSize) return this.#fail('too-large')
    if (this.#expectedLength !== undefined && this.#size > this.#expectedLength) return this.#fail('length-mismatch')
    this.#chunks.push(chunk)
  }

  abandon(): void {
    this.#fail('abandoned')
  }

  /** The whole body, once the response ended cleanly; checks the length against Content-Length. */
  finish(): RecorderResult {
    const chunks = this.#chunks
    if (chunks === undefined) return { complete: false, reason: this.#failure ?? 'abandoned' }
    this.#chunks = undefined
    if (this.#expectedLength !== undefined && this.#size !== this.#expectedLength) {
      return { complete: false, reason: 'length-mismatch' }
    }
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#size)
    return { complete: true, body }
  }

  #fail(reason: RecorderFailure): void {
    this.#chunks = undefined
    this.#failure ??= reason
  }
}

/** A Content-Length header's value as a byte count, or undefined when absent or not a single valid number. */
export function contentLength(value: string | readonly string[] | undefined): number | undefined {
  if (value === undefined) return undefined
  const text = typeof value === 'string' ? value : value.length === 1 ? value[0]! : undefined
  if (text === undefined || !/^\d{1,15}$/.test(text.trim())) return undefined
  return Number(text.trim())
}
