/**
 * policy/preconditions.ts: which of a request's preconditions the cache evaluates (RFC 9111 §4.3.2,
 * RFC 9110 §13.2.2), how If-None-Match is parsed and compared (§13.1.2, §8.8.3), how If-Modified-Since
 * is read (§13.1.3), and what a 304 carries (§15.4.5).
 */
import assert from 'node:assert/strict'
import type { HeaderRecord } from '../../lib/headers.js'
import { carriesPreconditions, holdsStored, notModifiedHeaders, receivedPreconditions, withoutPreconditions, type Preconditions } from '../../lib/policy/preconditions.js'

const URL_ = new URL('http://origin.test/x')
const IMF = 'Thu, 01 Jan 2026 11:00:00 GMT'
const AT = Date.UTC(2026, 0, 1, 11)

const received = (headers: HeaderRecord, method = 'GET') => receivedPreconditions({ method, url: URL_, headers })

describe('policy/preconditions receivedPreconditions', () => {
  const rows: ReadonlyArray<{ name: string; headers: HeaderRecord; method?: string; expected: ReturnType<typeof receivedPreconditions> }> = [
    { name: 'no precondition', headers: { accept: '*/*' }, expected: undefined },
    { name: 'an undefined value is no field', headers: { 'if-none-match': undefined }, expected: undefined },
    { name: 'If-Match is the origin\'s', headers: { 'if-match': '"a"', 'if-none-match': '"b"' }, expected: 'origin' },
    { name: 'If-Unmodified-Since is the origin\'s', headers: { 'if-unmodified-since': IMF }, expected: 'origin' },
    { name: 'If-Range is the origin\'s', headers: { 'if-range': '"a"' }, expected: 'origin' },
    { name: 'a precondition on POST is the origin\'s', headers: { 'if-none-match': '"a"' }, method: 'POST', expected: 'origin' },
    { name: 'a precondition with Range is the origin\'s', headers: { 'if-none-match': '"a"', range: 'bytes=0-1' }, expected: 'origin' },
    { name: 'an unquoted tag does not parse: the origin\'s', headers: { 'if-none-match': 'abc' }, expected: 'origin' },
    { name: 'a list with junk after a tag: the origin\'s', headers: { 'if-none-match': '"a" "b"' }, expected: 'origin' },
    { name: 'a lowercase weakness flag does not parse', headers: { 'if-none-match': 'w/"a"' }, expected: 'origin' },
    { name: 'an empty list does not parse', headers: { 'if-none-match': ' , ' }, expected: 'origin' },
    { name: 'a control character in a tag does not parse', headers: { 'if-none-match': '"a\tb"' }, expected: 'origin' },
    { name: '*', headers: { 'if-none-match': ' * ' }, expected: { kind: 'none-match', tags: '*' } },
    { name: 'one strong tag', headers: { 'if-none-match': '"a"' }, expected: { kind: 'none-match', tags: [{ weak: false, opaque: '"a"' }] } },
    {
      name: 'a list with weak tags, empty members, a comma inside a tag and obs-text',
      headers: { 'if-none-match': ' W/"a" ,, "b,c",\t"dü" ' },
      expected: { kind: 'none-match', tags: [{ weak: true, opaque: '"a"' }, { weak: false, opaque: '"b,c"' }, { weak: false, opaque: '"dü"' }] },
    },
    { name: 'a trailing comma is an empty member', headers: { 'if-none-match': '"a",' }, expected: { kind: 'none-match', tags: [{ weak: false, opaque: '"a"' }] } },
    { name: 'several lines make one list', headers: { 'if-none-match': ['"a"', 'W/"b"'] }, expected: { kind: 'none-match', tags: [{ weak: false, opaque: '"a"' }, { weak: true, opaque: '"b"' }] } },
    { name: 'HEAD is evaluated as GET', headers: { 'if-none-match': '"a"' }, method: 'HEAD', expected: { kind: 'none-match', tags: [{ weak: false, opaque: '"a"' }] } },
    { name: 'If-None-Match takes If-Modified-Since\'s place', headers: { 'if-none-match': '"a"', 'if-modified-since': IMF }, expected: { kind: 'none-match', tags: [{ weak: false, opaque: '"a"' }] } },
    { name: 'an IMF-fixdate', headers: { 'if-modified-since': IMF }, expected: { kind: 'modified-since', since: AT } },
    { name: 'an RFC 850 date', headers: { 'if-modified-since': 'Thursday, 01-Jan-26 11:00:00 GMT' }, expected: { kind: 'modified-since', since: AT } },
    { name: 'an If-Modified-Since that is no date is ignored', headers: { 'if-modified-since': 'yesterday' }, expected: undefined },
    { name: 'an If-Modified-Since on two lines is ignored', headers: { 'if-modified-since': [IMF, IMF] }, expected: undefined },
  ]
  for (const row of rows) {
    it(row.name, () => assert.deepEqual(received(row.headers, row.method), row.expected))
  }
})

describe('policy/preconditions holdsStored', () => {
  const stored = (headers: HeaderRecord, status = 200) => ({ status, headers, responseTime: AT + 1500 })
  const noneMatch = (value: string): Preconditions => received({ 'if-none-match': value }) as Preconditions
  const since = (ms: number): Preconditions => ({ kind: 'modified-since', since: ms })

  it('matches If-None-Match by the weak comparison, either side weak', () => {
    assert.equal(holdsStored(noneMatch('"a"'), stored({ etag: '"a"' })), true)
    assert.equal(holdsStored(noneMatch('W/"a"'), stored({ etag: '"a"' })), true)
    assert.equal(holdsStored(noneMatch('"a"'), stored({ etag: 'W/"a"' })), true)
    assert.equal(holdsStored(noneMatch('"x", "a"'), stored({ etag: ' "a" ' })), true)
    assert.equal(holdsStored(noneMatch('"A"'), stored({ etag: '"a"' })), false, 'opaque tags compare case-sensitively')
  })

  it('matches `*` whenever a 200 is stored, with or without an ETag', () => {
    assert.equal(holdsStored(noneMatch('*'), stored({})), true)
  })

  it('never matches a stored ETag that is missing, malformed or on several lines', () => {
    for (const headers of [{}, { etag: 'a' }, { etag: '"a" x' }, { etag: ['"a"', '"a"'] }] as HeaderRecord[]) {
      assert.equal(holdsStored(noneMatch('"a"'), stored(headers)), false, JSON.stringify(headers))
    }
  })

  it('evaluates only a stored 200 (RFC 9111 §4.3.2)', () => {
    for (const status of [203, 204, 301, 404, 410]) assert.equal(holdsStored(noneMatch('*'), stored({ etag: '"a"' }, status)), false, String(status))
  })

  it('compares If-Modified-Since with Last-Modified, then Date, then the second the response arrived', () => {
    const lm = { 'last-modified': IMF, date: 'Thu, 01 Jan 2026 11:30:00 GMT' }
    assert.equal(holdsStored(since(AT), stored(lm)), true, 'equal: not modified since')
    assert.equal(holdsStored(since(AT - 1000), stored(lm)), false, 'modified after the date given')
    assert.equal(holdsStored(since(AT + 1_800_000), stored({ date: lm.date })), true, 'by Date')
    assert.equal(holdsStored(since(AT + 1_799_000), stored({ date: lm.date })), false, 'by Date')
    assert.equal(holdsStored(since(AT + 1000), stored({})), true, 'received at 11:00:01.5: that second')
    assert.equal(holdsStored(since(AT), stored({})), false, 'received at 11:00:01.5: that second')
    assert.equal(holdsStored(since(AT + 1_800_000), stored({ 'last-modified': 'junk', date: lm.date })), true, 'a junk Last-Modified gives way to Date')
  })
})

describe('policy/preconditions notModifiedHeaders and withoutPreconditions', () => {
  it('keeps the fields of RFC 9110 §15.4.5 and the cache\'s own, drops the content fields', () => {
    const headers = {
      etag: '"a"', 'last-modified': IMF, date: IMF, 'cache-control': 'max-age=5', expires: IMF, vary: 'accept', 'content-location': '/x',
      age: '3', 'cache-status': 'undici-redis-cache; hit', 'x-own': '1',
      'content-type': 'text/plain', 'content-length': '5', 'content-encoding': 'gzip', 'content-language': 'en',
      'content-digest': 'sha-256=:AAAA:', 'content-md5': 'AAAA',
    }
    assert.deepEqual({ ...notModifiedHeaders(headers) }, {
      etag: '"a"', date: IMF, 'cache-control': 'max-age=5', expires: IMF, vary: 'accept', 'content-location': '/x', age: '3', 'cache-status': 'undici-redis-cache; hit', 'x-own': '1',
    })
    assert.equal(notModifiedHeaders({ 'last-modified': IMF })['last-modified'], IMF, 'kept when there is no ETag')
  })

  it('removes every precondition from a request the cache makes, and nothing else', () => {
    const headers = { accept: '*/*', 'if-match': '"a"', 'if-none-match': '"a"', 'if-modified-since': IMF, 'if-unmodified-since': IMF, 'if-range': '"a"' }
    assert.deepEqual({ ...withoutPreconditions(headers) }, { accept: '*/*' })
  })

  it('sees a precondition field the cache evaluates, leaves to the origin, or ignores', () => {
    assert.equal(carriesPreconditions({ accept: '*/*' }), false)
    assert.equal(carriesPreconditions({ 'if-none-match': undefined }), false)
    for (const name of ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range']) {
      assert.equal(carriesPreconditions({ [name]: 'junk' }), true, name)
    }
  })
})
