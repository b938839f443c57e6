/**
 * A stored body as a sequence of chunks for replay.ts: views of an inline body, or an external body
 * read from the store one chunk at a time (storage/external-body.ts).
 */
import type { OpenedBody } from './storage/external-body.js'

/** Largest chunk handed to the caller at once from an inline body. */
export const REPLAY_CHUNK_SIZE = 64 * 1024

export interface BodySource {
  readonly chunks: number
  /** Chunks come from I/O: read the next one while the caller consumes the current one. */
  readonly readAhead: boolean
  /**
   * Chunk `index` (0-based, asked for in order): synchronously when it is in memory, else a promise.
   * Undefined (or a promise of it) when it cannot be read or fails its check: the replay hands the
   * response to its BodyFailure (replay.ts) to finish from the origin, or aborts it.
   */
  read(index: number): Buffer | undefined | Promise<Buffer | undefined>
}

/** Views of an in-memory body, REPLAY_CHUNK_SIZE at a time (no copy). */
export function inlineSource(body: Uint8Array): BodySource {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const chunks = Math.ceil(bytes.byteLength / REPLAY_CHUNK_SIZE)
  return {
    chunks,
    readAhead: false,
    read: (index) => (chunks === 1 ? bytes : bytes.subarray(index * REPLAY_CHUNK_SIZE, (index + 1) * REPLAY_CHUNK_SIZE)),
  }
}

/** An external body whose first chunk is already in hand. */
export function externalSource(body: OpenedBody): BodySource {
  return { chunks: body.chunks, readAhead: true, read: (index) => (index === 0 ? body.first : body.read(index)) }
}

/**
 * Bytes `first` to `last` (inclusive offsets into the stored body) of an external body of `chunkSize`
 * chunks, opened at the chunk holding `first` (a byte range, RFC 9110 §14): the chunks in between,
 * the two ends trimmed.
 */
export function externalSliceSource(body: OpenedBody, chunkSize: number, first: number, last: number): BodySource {
  const from = Math.floor(first / chunkSize)
  const chunks = Math.floor(last / chunkSize) - from + 1
  const trim = (chunk: Buffer, index: number): Buffer => {
    const start = index === 0 ? first - from * chunkSize : 0
    const end = index === chunks - 1 ? last + 1 - (from + index) * chunkSize : chunk.byteLength
    return chunk.subarray(start, end)
  }
  return {
    chunks,
    readAhead: true,
    read: (index) => (index === 0 ? trim(body.first, 0) : body.read(from + index).then((chunk) => (chunk === undefined ? undefined : trim(chunk, index)))),
  }
}

/** No body: a HEAD request (RFC 9110 §9.3.2) or a synthetic 504. */
export const EMPTY_SOURCE: BodySource = { chunks: 0, readAhead: false, read: () => undefined }
