/**
 * Range requests and partial content, end to end against both stores (issue 12): a stored 206 answers
 * a later range it holds, with the stored headers (RFC 9111 §3.3); 206s of one representation are
 * combined (§3.4); a stored complete 200 answers ranges too (RFC 9110 §14.2). The cases follow the
 * public cache-tests `partial.mjs`, with internally consistent data (theirs send `Content-Range:
 * bytes 4-9/10` with a five-byte body, which this cache refuses to store: see the last test).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { INLINE_BODY_LIMIT } from '../../lib/entry.js'
import { cacheRunner, send, type Reply } from '../helpers/client.js'
import type { Dispatcher } from '../helpers/undici.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

const TEN = Buffer.from('0123456789')
/** Stored apart from its entry (lib/entry.ts INLINE_BODY_LIMIT) and read back in BODY_CHUNK_SIZE chunks. */
const LARGE = randomBytes(INLINE_BODY_LIMIT + 300 * 1024)

/**
 * `/ranged/…` honours one byte range of `0123456789` with a strong ETag; `/weak/…` the same with a
 * weak one; `/changing/…` with a new ETag and new bytes on every request; `/whole/…` ignores Range
 * (`0123456789A`); `/large/…` honours ranges of a body stored apart; `/chunked/…` sends its 206 without
 * Content-Length; `/vary/…` varies on Accept-Language (fr: `abcdefghij`); `/lying/…` is cache-tests' 206 whose length contradicts its Content-Range. Every
 * response says which origin request it was in `x-n`.
 */
function handler(req: IncomingMessage, res: ServerResponse, index: number): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname
  const headers: Record<string, string> = { 'cache-control': 'max-age=3600', 'x-n': String(index) }
  if (req.method === 'POST') {
    res.writeHead(204, headers)
    return void res.end()
  }
  if (path.startsWith('/whole/')) return whole(res, Buffer.from('0123456789A'), headers)
  if (path.startsWith('/lying/')) {
    res.writeHead(206, { ...headers, 'content-range': 'bytes 4-9/10', 'content-length': '5' })
    return void res.end('01234')
  }
  if (path.startsWith('/large/')) return ranged(req, res, LARGE, { ...headers, etag: '"large"' })
  if (path.startsWith('/vary/')) {
    const language = req.headers['accept-language'] === 'fr' ? 'fr' : 'en'
    return ranged(req, res, Buffer.from(language === 'fr' ? 'abcdefghij' : '0123456789'), { ...headers, etag: `"${language}"`, vary: 'accept-language' })
  }
  if (path.startsWith('/weak/')) return ranged(req, res, TEN, { ...headers, etag: 'W/"r1"' })
  if (path.startsWith('/changing/')) return ranged(req, res, Buffer.from(String(index % 10).repeat(10)), { ...headers, etag: `"v${index}"` })
  return ranged(req, res, TEN, { ...headers, etag: '"r1"' }, path.startsWith('/chunked/'))
}

function whole(res: ServerResponse, body: Buffer, headers: Record<string, string>): void {
  res.writeHead(200, { ...headers, 'content-length': String(body.byteLength) })
  res.end(body)
}

/** One byte range of `body` (RFC 9110 §14.1.2), or all of it without a Range. */
function ranged(req: IncomingMessage, res: ServerResponse, body: Buffer, headers: Record<string, string>, chunked = false): void {
  const match = /^bytes=(\d*)-(\d*)$/.exec(req.headers['range'] ?? '')
  if (match === null) return whole(res, body, headers)
  const size = body.byteLength
  const [first, last] = match[1] === '' ? [size - Number(match[2]), size - 1] : [Number(match[1]), Math.min(match[2] === '' ? size - 1 : Number(match[2]), size - 1)]
  const part = body.subarray(first, last + 1)
  res.writeHead(206, { ...headers, 'content-range': `bytes ${first}-${last}/${size}`, ...(chunked ? {} : { 'content-length': String(part.byteLength) }) })
  if (!chunked) return void res.end(part)
  res.write(part.subarray(0, 1))
  setTimeout(() => res.end(part.subarray(1)), 5)
}

for (const kind of storeKinds) {
  describe(`partial content and Range requests (${kind.name} store)`, () => {
    const origin = suiteOrigin(kind, handler)
    const withCache = cacheRunner(kind)
    const get = (dispatcher: Dispatcher, path: string, range?: string): Promise<Reply> => send(dispatcher, `${origin.url}${path}`, range === undefined ? {} : { headers: { range } })

    it('RFC 9111 §3.3: a stored 206 answers the same range again, with the stored headers', () =>
      withCache({}, async (dispatcher) => {
        const first = await get(dispatcher, '/ranged/same', 'bytes=-5')
        assert.equal(first.status, 206)
        assert.match(first.cacheStatus ?? '', /fwd=miss; fwd-status=206; stored/)
        const second = await get(dispatcher, '/ranged/same', 'bytes=-5')
        assert.equal(origin.count('/ranged/same'), 1)
        assert.equal(second.status, 206)
        assert.equal(second.text, '56789')
        assert.equal(second.headers['content-range'], 'bytes 5-9/10')
        assert.equal(second.headers['content-length'], '5')
        assert.equal(second.headers['etag'], '"r1"')
        assert.equal(second.headers['x-n'], first.headers['x-n'])
        assert.match(second.cacheStatus ?? '', /; hit; ttl=/)
      }))

    for (const [form, range, text, contentRange] of [
      ['byte-range-spec', 'bytes=6-8', '678', 'bytes 6-8/10'],
      ['absent last-byte-pos', 'bytes=6-', '6789', 'bytes 6-9/10'],
      ['suffix-byte-range-spec', 'bytes=-1', '9', 'bytes 9-9/10'],
    ] as const) {
      it(`RFC 9111 §3.3 "the request is partial and specifies a range wholly within the incomplete response": a smaller range (${form}) from a stored 206`, () =>
        withCache({}, async (dispatcher) => {
          const path = `/ranged/smaller-${form.replaceAll(' ', '-')}`
          await get(dispatcher, path, 'bytes=4-9')
          const reply = await get(dispatcher, path, range)
          assert.equal(origin.count(path), 1)
          assert.equal(reply.status, 206)
          assert.equal(reply.text, text)
          assert.equal(reply.headers['content-range'], contentRange)
          assert.equal(reply.headers['content-length'], String(text.length))
          assert.equal(reply.headers['etag'], '"r1"')
        }))
    }

    for (const [form, range, text, contentRange] of [
      ['byte-range-spec', 'bytes=0-1', '01', 'bytes 0-1/11'],
      ['absent last-byte-pos', 'bytes=1-', '123456789A', 'bytes 1-10/11'],
      ['suffix-byte-range-spec', 'bytes=-1', 'A', 'bytes 10-10/11'],
    ] as const) {
      it(`RFC 9110 §14.2: a stored complete 200 answers a range (${form}) as a 206`, () =>
        withCache({}, async (dispatcher) => {
          const path = `/whole/${form.replaceAll(' ', '-')}`
          await get(dispatcher, path)
          const reply = await get(dispatcher, path, range)
          assert.equal(origin.count(path), 1)
          assert.equal(reply.status, 206)
          assert.equal(reply.text, text)
          assert.equal(reply.headers['content-range'], contentRange)
          assert.equal(reply.headers['content-length'], String(text.length))
          assert.match(reply.cacheStatus ?? '', /; hit; /)
        }))
    }

    it('RFC 9110 §14.2: a 200 to a Range request (an origin that ignores Range) is stored as the complete response', () =>
      withCache({}, async (dispatcher) => {
        const first = await get(dispatcher, '/whole/ignored', 'bytes=0-1')
        assert.equal(first.status, 200)
        assert.match(first.cacheStatus ?? '', /stored/)
        assert.equal((await get(dispatcher, '/whole/ignored', 'bytes=2-3')).text, '23')
        assert.equal((await get(dispatcher, '/whole/ignored')).text, '0123456789A')
        assert.equal(origin.count('/whole/ignored'), 1)
      }))

    it('RFC 9111 §3.3 "A cache MUST NOT use an incomplete response to answer requests unless …": a request without Range, or a range the part does not hold, goes to the origin', () =>
      withCache({}, async (dispatcher) => {
        await get(dispatcher, '/ranged/incomplete', 'bytes=0-4')
        const outside = await get(dispatcher, '/ranged/incomplete', 'bytes=3-6')
        assert.equal(outside.text, '3456')
        assert.match(outside.cacheStatus ?? '', /fwd=miss/)
        const full = await get(dispatcher, '/ranged/incomplete')
        assert.equal(full.status, 200)
        assert.equal(full.text, '0123456789')
        assert.equal(full.headers['content-range'], undefined)
        assert.equal(origin.count('/ranged/incomplete'), 3)
      }))

    it('RFC 9111 §3.4: two 206s with the same strong validator are combined; the combined headers are the newest', () =>
      withCache({}, async (dispatcher) => {
        await get(dispatcher, '/ranged/combine', 'bytes=0-3')
        const newest = await get(dispatcher, '/ranged/combine', 'bytes=4-6')
        const reply = await get(dispatcher, '/ranged/combine', 'bytes=2-5')
        assert.equal(origin.count('/ranged/combine'), 2)
        assert.equal(reply.status, 206)
        assert.equal(reply.text, '2345')
        assert.equal(reply.headers['content-range'], 'bytes 2-5/10')
        assert.equal(reply.headers['x-n'], newest.headers['x-n'])
        assert.match(reply.cacheStatus ?? '', /; hit; /)
      }))

    it('RFC 9110 §15.3.7.3 "If the union consists of the entire range of the representation": the parts become a complete 200', () =>
      withCache({}, async (dispatcher) => {
        await get(dispatcher, '/ranged/union', 'bytes=0-4')
        await get(dispatcher, '/ranged/union', 'bytes=5-')
        const full = await get(dispatcher, '/ranged/union')
        assert.equal(origin.count('/ranged/union'), 2)
        assert.equal(full.status, 200)
        assert.equal(full.text, '0123456789')
        assert.equal(full.headers['content-length'], '10')
        assert.equal(full.headers['content-range'], undefined)
        assert.match(full.cacheStatus ?? '', /; hit; /)
      }))

    for (const [what, prefix] of [
      ['weak validators', '/weak/'],
      ['different strong validators', '/changing/'],
    ] as const) {
      it(`RFC 9111 §3.4 "if they all share the same strong validator": parts with ${what} are not combined; the newest replaces the stored one`, () =>
        withCache({}, async (dispatcher) => {
          const path = `${prefix}no-combine`
          await get(dispatcher, path, 'bytes=0-4')
          const second = await get(dispatcher, path, 'bytes=5-9')
          const again = await get(dispatcher, path, 'bytes=5-9')
          assert.equal(again.text, second.text)
          assert.match(again.cacheStatus ?? '', /; hit; /)
          // The first part was replaced, never spliced with bytes of another response.
          assert.match((await get(dispatcher, path, 'bytes=0-4')).cacheStatus ?? '', /fwd=miss/)
          const full = await get(dispatcher, path)
          assert.equal(full.status, 200)
          assert.match(full.cacheStatus ?? '', /fwd=miss/)
          assert.equal(origin.count(path), 4)
        }))
    }

    it('RFC 9111 §4.1: a stored 206 answers only requests its Vary matches', () =>
      withCache({}, async (dispatcher) => {
        const ranged = (language: string, range: string): Promise<Reply> => send(dispatcher, `${origin.url}/vary/part`, { headers: { range, 'accept-language': language } })
        await ranged('en', 'bytes=0-4')
        const fr = await ranged('fr', 'bytes=0-4')
        assert.equal(fr.text, 'abcde')
        assert.match(fr.cacheStatus ?? '', /fwd=miss/)
        assert.equal((await ranged('en', 'bytes=1-2')).text, '12')
        assert.equal((await ranged('fr', 'bytes=1-2')).text, 'bc')
        assert.equal(origin.count('/vary/part'), 2)
      }))

    it('a 206 sent without Content-Length is stored once its length matches its Content-Range', () =>
      withCache({}, async (dispatcher) => {
        await get(dispatcher, '/chunked/part', 'bytes=2-7')
        const reply = await get(dispatcher, '/chunked/part', 'bytes=3-4')
        assert.equal(reply.text, '34')
        assert.equal(origin.count('/chunked/part'), 1)
      }))

    it('ranges of a large body stored in chunks: the bytes across a chunk boundary, and a suffix', () =>
      withCache({}, async (dispatcher) => {
        await get(dispatcher, '/large/body')
        const across = await get(dispatcher, '/large/body', 'bytes=262000-530000')
        assert.ok(across.body.equals(LARGE.subarray(262000, 530001)))
        assert.equal(across.headers['content-range'], `bytes 262000-530000/${LARGE.byteLength}`)
        const suffix = await get(dispatcher, '/large/body', 'bytes=-100')
        assert.ok(suffix.body.equals(LARGE.subarray(LARGE.byteLength - 100)))
        const inside = await get(dispatcher, '/large/body', 'bytes=10-20')
        assert.ok(inside.body.equals(LARGE.subarray(10, 21)))
        assert.equal(origin.count('/large/body'), 1)
      }))

    it('RFC 9111 §4.4: an unsafe method invalidates the stored partial response too', () =>
      withCache({}, async (dispatcher) => {
        await get(dispatcher, '/ranged/invalidated', 'bytes=0-4')
        assert.match((await get(dispatcher, '/ranged/invalidated', 'bytes=0-4')).cacheStatus ?? '', /; hit; /)
        await send(dispatcher, `${origin.url}/ranged/invalidated`, { method: 'POST', body: 'x' })
        assert.match((await get(dispatcher, '/ranged/invalidated', 'bytes=0-4')).cacheStatus ?? '', /fwd=miss/)
      }))

    it('store.delete(url) removes the stored partial response with the complete one', () =>
      withCache({}, async (dispatcher, store) => {
        await get(dispatcher, '/ranged/admin', 'bytes=0-4')
        assert.equal(await store.delete(`${origin.url}/ranged/admin`), 1)
        assert.match((await get(dispatcher, '/ranged/admin', 'bytes=0-4')).cacheStatus ?? '', /fwd=miss/)
      }))

    it('several ranges, another unit, If-Range and HEAD with Range go to the origin untouched', () =>
      withCache({}, async (dispatcher) => {
        await get(dispatcher, '/whole/untouched')
        for (const headers of [{ range: 'bytes=0-1,3-4' }, { range: 'items=0-1' }, { range: 'bytes=0-1', 'if-range': '"r1"' }]) {
          const reply = await send(dispatcher, `${origin.url}/whole/untouched`, { headers })
          assert.match(reply.cacheStatus ?? '', /fwd=bypass/, JSON.stringify(headers))
        }
        const head = await send(dispatcher, `${origin.url}/whole/untouched`, { method: 'HEAD', headers: { range: 'bytes=0-1' } })
        assert.match(head.cacheStatus ?? '', /fwd=bypass/)
        assert.equal(origin.count('/whole/untouched'), 5)
      }))

    it('only-if-cached with no stored response holding the range: 504 (RFC 9111 §5.2.1.7)', () =>
      withCache({}, async (dispatcher) => {
        await get(dispatcher, '/ranged/only-if-cached', 'bytes=0-4')
        const reply = await send(dispatcher, `${origin.url}/ranged/only-if-cached`, { headers: { range: 'bytes=5-9', 'cache-control': 'only-if-cached' } })
        assert.equal(reply.status, 504)
        const held = await send(dispatcher, `${origin.url}/ranged/only-if-cached`, { headers: { range: 'bytes=1-2', 'cache-control': 'only-if-cached' } })
        assert.equal(held.text, '12')
        assert.equal(origin.count('/ranged/only-if-cached'), 1)
      }))

    it('a 206 whose length contradicts its Content-Range (cache-tests: bytes 4-9/10 with five bytes) is passed on but not stored', () =>
      withCache({}, async (dispatcher) => {
        const first = await get(dispatcher, '/lying/part', 'bytes=-5')
        assert.equal(first.status, 206)
        assert.doesNotMatch(first.cacheStatus ?? '', /stored/)
        await get(dispatcher, '/lying/part', 'bytes=-5')
        assert.equal(origin.count('/lying/part'), 2)
      }))
  })
}
