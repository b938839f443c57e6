/**
 * The request body bytes that become part of the key when a method with a body is cached (`methods:
 * ['GET', 'POST']` for a search API, say). undici hands bodies over in several shapes; fetch() sends
 * every body as an async iterable, which has to be read (bounded) before it can be keyed.
 */
import type { Dispatcher } from 'undici'

/** Largest streamed request body read to key on; a larger one is sent on untouched and not cached. */
export const MAX_KEYED_BODY = 1024 * 1024

export type KeyedBody =
  /** GET and HEAD, or no body: nothing to key on. */
  | { readonly kind: 'none' }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  /** An async iterable (a stream, fetch's body): readBody() it first. */
  | { readonly kind: 'stream'; readonly body: AsyncIterable<Uint8Array | string> }
  /** A body the cache does not key on (FormData: its multipart boundary differs per request). */
  | { readonly kind: 'unkeyable' }

const NONE: KeyedBody = { kind: 'none' }
const UNKEYABLE: KeyedBody = { kind: 'unkeyable' }

/** What of `body` the key can use, without reading anything yet. */
export function keyedBody(method: string, body: Dispatcher.DispatchOptions['body']): KeyedBody {
  if (method === 'GET' || method === 'HEAD' || body == null) return NONE
  if (typeof body === 'string') return { kind: 'bytes', bytes: Buffer.from(body) }
  if (body instanceof Uint8Array) return { kind: 'bytes', bytes: body }
  if (typeof body === 'object' && Symbol.asyncIterator in body) return { kind: 'stream', body: body as AsyncIterable<Uint8Array | string> }
  return UNKEYABLE
}

export type ReadBody =
  | { readonly kind: 'bytes'; readonly bytes: Buffer }
  /** Over the limit: `rest` yields what was read and then the remainder, so the request still goes out whole. */
  | { readonly kind: 'too-large'; readonly rest: AsyncIterable<Uint8Array | string> }

/** Reads a streamed body up to `limit` bytes. */
export async function readBody(body: AsyncIterable<Uint8Array | string>, limit = MAX_KEYED_BODY): Promise<ReadBody> {
  const iterator = body[Symbol.asyncIterator]()
  const chunks: Buffer[] = []
  let size = 0
  for (;;) {
    const step = await iterator.next()
    if (step.done === true) return { kind: 'bytes', bytes: Buffer.concat(chunks, size) }
    const chunk = typeof step.value === 'string' ? Buffer.from(step.value) : Buffer.from(step.value.buffer, step.value.byteOffset, step.value.byteLength)
    chunks.push(chunk)
    size += chunk.byteLength
    if (size > limit) {
      const rest = async function* (): AsyncGenerator<Uint8Array | string> {
        yield* chunks
        for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) yield next.value
      }
      return { kind: 'too-large', rest: rest() }
    }
  }
}
