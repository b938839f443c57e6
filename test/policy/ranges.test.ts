import assert from 'node:assert/strict'
import type { HeaderRecord } from '../../lib/headers.js'
import type { CacheRequest, CacheResponse } from '../../lib/http.js'
import { combinable, combine, contains, isWhole, parseContentRange, parseRange, partHeaders, resolveRange, storablePartial, strongEtag, wholeHeaders, type ContentRange, type RangeRequest, type Span } from '../../lib/policy/ranges.js'
import { parseResponseDirectives } from '../../lib/policy/directives.js'
import { storable, type StorableOptions } from '../../lib/policy/storable.js'
import { reqDirectives } from '../helpers/directives.js'

const text = (value: string): Uint8Array => new TextEncoder().encode(value)
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

describe('policy/ranges parseRange (RFC 9110 §14.1.1)', () => {
  const rows: ReadonlyArray<{ value: string | readonly string[] | undefined; expected: RangeRequest | undefined }> = [
    { value: 'bytes=0-1', expected: { kind: 'span', first: 0, last: 1 } },
    { value: 'bytes=1-', expected: { kind: 'span', first: 1, last: undefined } },
    { value: 'bytes=-5', expected: { kind: 'suffix', length: 5 } },
    { value: 'BYTES=2-3', expected: { kind: 'span', first: 2, last: 3 } },
    { value: ' bytes=2-3 ', expected: { kind: 'span', first: 2, last: 3 } },
    { value: 'bytes=5-5', expected: { kind: 'span', first: 5, last: 5 } },
    // "A byte-range-spec is invalid if the last-pos value is present and less than the first-pos."
    { value: 'bytes=5-4', expected: undefined },
    // §14.1.3: a suffix-length of 0 is unsatisfiable: the origin answers it.
    { value: 'bytes=-0', expected: undefined },
    { value: 'bytes=0-1,3-4', expected: undefined },
    { value: 'bytes=0-1, 3-4', expected: undefined },
    { value: 'items=0-1', expected: undefined },
    { value: 'bytes = 0-1', expected: undefined },
    { value: 'bytes=-', expected: undefined },
    { value: 'bytes=a-b', expected: undefined },
    { value: 'bytes=1234567890123456-', expected: undefined },
    { value: ['bytes=0-1', 'bytes=2-3'], expected: undefined },
    { value: undefined, expected: undefined },
  ]
  for (const { value, expected } of rows) {
    it(`${JSON.stringify(value)} → ${JSON.stringify(expected)}`, () => assert.deepEqual(parseRange(value), expected))
  }
})

describe('policy/ranges resolveRange (RFC 9110 §14.1.2)', () => {
  const rows: ReadonlyArray<{ name: string; wanted: RangeRequest; complete: number; expected: Span | undefined }> = [
    { name: 'byte-range-spec inside', wanted: { kind: 'span', first: 0, last: 1 }, complete: 11, expected: { first: 0, last: 1 } },
    { name: 'absent last-pos: to the end', wanted: { kind: 'span', first: 1, last: undefined }, complete: 11, expected: { first: 1, last: 10 } },
    { name: 'last-pos past the end: the end', wanted: { kind: 'span', first: 8, last: 99 }, complete: 10, expected: { first: 8, last: 9 } },
    { name: 'suffix: the last bytes', wanted: { kind: 'suffix', length: 1 }, complete: 11, expected: { first: 10, last: 10 } },
    { name: 'suffix longer than the representation: all of it', wanted: { kind: 'suffix', length: 50 }, complete: 10, expected: { first: 0, last: 9 } },
    { name: 'first-pos at the end: unsatisfiable', wanted: { kind: 'span', first: 10, last: undefined }, complete: 10, expected: undefined },
    { name: 'suffix of an empty representation: unsatisfiable', wanted: { kind: 'suffix', length: 3 }, complete: 0, expected: undefined },
  ]
  for (const { name, wanted, complete, expected } of rows) {
    it(name, () => assert.deepEqual(resolveRange(wanted, complete), expected))
  }
})

describe('policy/ranges parseContentRange (RFC 9110 §14.4)', () => {
  const rows: ReadonlyArray<{ value: string | string[] | undefined; expected: ContentRange | undefined }> = [
    { value: 'bytes 4-9/10', expected: { first: 4, last: 9, complete: 10 } },
    { value: 'Bytes 0-0/1', expected: { first: 0, last: 0, complete: 1 } },
    // An unknown complete length cannot place a later suffix range: not stored.
    { value: 'bytes 0-4/*', expected: undefined },
    { value: 'bytes */10', expected: undefined },
    { value: 'bytes 5-4/10', expected: undefined },
    { value: 'bytes 0-10/10', expected: undefined },
    { value: 'items 0-4/10', expected: undefined },
    { value: ['bytes 0-4/10', 'bytes 5-9/10'], expected: undefined },
    { value: undefined, expected: undefined },
  ]
  for (const { value, expected } of rows) {
    it(`${JSON.stringify(value)} → ${JSON.stringify(expected)}`, () => assert.deepEqual(parseContentRange(value === undefined ? {} : { 'content-range': value }), expected))
  }
})

describe('policy/ranges storablePartial and the 206 clause of storable (RFC 9111 §3, §3.3)', () => {
  const get = (headers: HeaderRecord = { range: 'bytes=4-9' }, method = 'GET'): CacheRequest => ({ method, url: new URL('https://example.com/a'), headers })
  const partial = (headers: HeaderRecord): CacheResponse => ({ status: 206, statusText: 'Partial Content', headers: { date: 'Sun, 06 Nov 1994 08:49:37 GMT', ...headers } })
  const options: StorableOptions = { methods: new Set(['GET', 'HEAD']), allowableCodes: new Set([200, 203, 300, 301, 308]), cacheControl: true, credentialsPartitioned: false, shared: true }
  const rows: ReadonlyArray<{ name: string; req?: CacheRequest; headers: HeaderRecord; partial: boolean; storable: boolean | string }> = [
    { name: 'a single range with its complete length and a matching Content-Length', headers: { 'content-range': 'bytes 4-9/10', 'content-length': '6', 'cache-control': 'max-age=60' }, partial: true, storable: true },
    { name: 'no Content-Length (length checked when the body ends)', headers: { 'content-range': 'bytes 4-9/10', 'cache-control': 'max-age=60' }, partial: true, storable: true },
    { name: 'heuristically cacheable like its 200 (RFC 9110 §15.3.7)', headers: { 'content-range': 'bytes 4-9/10', 'last-modified': 'Sun, 06 Nov 1994 08:00:00 GMT' }, partial: true, storable: true },
    { name: 'a Content-Length that contradicts the range (cache-tests sends bytes 4-9/10 with 5 bytes)', headers: { 'content-range': 'bytes 4-9/10', 'content-length': '5', 'cache-control': 'max-age=60' }, partial: false, storable: 'partial-content' },
    { name: 'no Content-Range (multipart/byteranges)', headers: { 'content-type': 'multipart/byteranges; boundary=x', 'cache-control': 'max-age=60' }, partial: false, storable: 'partial-content' },
    { name: 'unknown complete length', headers: { 'content-range': 'bytes 4-9/*', 'cache-control': 'max-age=60' }, partial: false, storable: 'partial-content' },
    { name: 'to a request without Range', req: get({}), headers: { 'content-range': 'bytes 4-9/10', 'cache-control': 'max-age=60' }, partial: false, storable: 'partial-content' },
    { name: 'to a request for several ranges', req: get({ range: 'bytes=0-1,4-9' }), headers: { 'content-range': 'bytes 4-9/10', 'cache-control': 'max-age=60' }, partial: false, storable: 'partial-content' },
    { name: 'a 206 is judged as its 200 would be: no-store', headers: { 'content-range': 'bytes 4-9/10', 'cache-control': 'no-store' }, partial: true, storable: 'no-store' },
    { name: 'a 206 is judged as its 200 would be: private in a shared cache', headers: { 'content-range': 'bytes 4-9/10', 'cache-control': 'private, max-age=60' }, partial: true, storable: 'private' },
  ]
  for (const row of rows) {
    it(row.name, () => {
      const req = row.req ?? get()
      const res = partial(row.headers)
      assert.equal(storablePartial(req, res) !== undefined, row.partial)
      const verdict = storable(req, reqDirectives(), res, parseResponseDirectives(res.headers), options)
      assert.deepEqual(verdict, row.storable === true ? { storable: true } : { storable: false, reason: row.storable })
    })
  }
})

describe('policy/ranges combining (RFC 9111 §3.4, RFC 9110 §15.3.7.3)', () => {
  const part = (first: number, last: number, bytes: string, headers: HeaderRecord = { etag: '"r1"' }, complete = 10) => ({ range: { first, last, complete }, headers, body: text(bytes) })
  const rows: ReadonlyArray<{ name: string; stored: ReturnType<typeof part>; incoming: ReturnType<typeof part>; expected: string | false }> = [
    { name: 'adjacent, same strong ETag', stored: part(0, 3, '0123'), incoming: part(4, 6, '456'), expected: '0-6:0123456' },
    { name: 'adjacent the other way', stored: part(4, 6, '456'), incoming: part(0, 3, '0123'), expected: '0-6:0123456' },
    { name: 'overlapping', stored: part(2, 6, '23456'), incoming: part(5, 9, '56789'), expected: '2-9:23456789' },
    { name: 'one inside the other', stored: part(0, 9, '0123456789'), incoming: part(3, 4, '34'), expected: '0-9:0123456789' },
    { name: 'a gap between them: not one continuous range', stored: part(0, 2, '012'), incoming: part(4, 6, '456'), expected: false },
    { name: 'different strong ETags: different representations', stored: part(0, 4, '01234', { etag: '"a"' }), incoming: part(5, 9, '56789', { etag: '"b"' }), expected: false },
    { name: 'weak ETags: only strong validators combine', stored: part(0, 4, '01234', { etag: 'W/"r1"' }), incoming: part(5, 9, '56789', { etag: 'W/"r1"' }), expected: false },
    { name: 'no validator at all', stored: part(0, 4, '01234', {}), incoming: part(5, 9, '56789', {}), expected: false },
    { name: 'same ETag, different complete length', stored: part(0, 4, '01234', { etag: '"r1"' }, 10), incoming: part(5, 9, '56789', { etag: '"r1"' }, 12), expected: false },
  ]
  for (const { name, stored, incoming, expected } of rows) {
    it(name, () => {
      assert.equal(combinable(stored, incoming), expected !== false)
      if (expected === false) return
      const merged = combine(stored, incoming)
      assert.equal(`${merged.range.first}-${merged.range.last}:${decode(merged.body)}`, expected)
    })
  }

  it('the combined headers are the newest part\'s, with Content-Range and Content-Length of the union (§3.4)', () => {
    const merged = combine(part(0, 3, '0123', { etag: '"r1"', 'x-n': '1', 'content-range': 'bytes 0-3/10', 'content-length': '4' }), part(4, 6, '456', { etag: '"r1"', 'x-n': '2', 'content-range': 'bytes 4-6/10', 'content-length': '3' }))
    assert.deepEqual({ ...merged.headers }, { etag: '"r1"', 'x-n': '2', 'content-range': 'bytes 0-6/10', 'content-length': '7' })
  })

  it('isWhole, contains, partHeaders and wholeHeaders', () => {
    assert.equal(isWhole({ first: 0, last: 9, complete: 10 }), true)
    assert.equal(isWhole({ first: 0, last: 8, complete: 10 }), false)
    assert.equal(contains({ first: 4, last: 9 }, { first: 6, last: 8 }), true)
    assert.equal(contains({ first: 4, last: 9 }, { first: 3, last: 8 }), false)
    assert.deepEqual({ ...partHeaders({ etag: '"x"', 'content-length': '10' }, { first: 6, last: 8 }, 10) }, { etag: '"x"', 'content-range': 'bytes 6-8/10', 'content-length': '3' })
    assert.deepEqual({ ...wholeHeaders({ etag: '"x"', 'content-range': 'bytes 0-9/10', 'content-length': '10' }, 10) }, { etag: '"x"', 'content-length': '10' })
  })

  it('strongEtag', () => {
    assert.equal(strongEtag({ etag: '"a"' }), '"a"')
    assert.equal(strongEtag({ etag: 'W/"a"' }), undefined)
    assert.equal(strongEtag({ etag: ['"a"', '"b"'] }), undefined)
    assert.equal(strongEtag({}), undefined)
  })
})
