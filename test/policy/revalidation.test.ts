import assert from 'node:assert/strict'
import type { HeaderRecord, MutableHeaderRecord } from '../../lib/headers.js'
import type { RequestDirectives, ResponseDirectives } from '../../lib/policy/directives.js'
import type { ReuseOptions } from '../../lib/policy/reuse.js'
import {
  answerUnansweredValidation,
  isErrorOutcome,
  mergeNotModified,
  headResponseMatches,
  notModifiedMatches,
  staleIfErrorAllowed,
  type UnansweredValidation,
  type ValidationOutcome,
} from '../../lib/policy/revalidation.js'
import { gatedDirectives } from '../helpers/directives.js'

const NOW = Date.UTC(2024, 0, 1, 12, 0, 0)

/** Reuse options plus the `cacheControl` option, which gates the directives before policy sees them. */
type RowOptions = Partial<ReuseOptions> & { readonly cacheControl?: boolean }

function options(partial: RowOptions = {}): ReuseOptions {
  return { staleWhileRevalidate: partial.staleWhileRevalidate ?? 0, staleIfError: partial.staleIfError ?? 0, shared: partial.shared ?? false, alwaysRevalidate: false }
}

function entry(age: number, lifetime: number) {
  return { initialAge: 0, responseTime: NOW - age * 1000, lifetime }
}

describe('policy/revalidation isErrorOutcome', () => {
  const rows: ReadonlyArray<{ outcome: ValidationOutcome; expected: boolean }> = [
    { outcome: 'error', expected: true },
    { outcome: 500, expected: true },
    { outcome: 502, expected: true },
    { outcome: 503, expected: true },
    { outcome: 504, expected: true },
    { outcome: 501, expected: false },
    { outcome: 505, expected: false },
    { outcome: 599, expected: false },
    { outcome: 200, expected: false },
    { outcome: 304, expected: false },
    { outcome: 404, expected: false },
    { outcome: 429, expected: false },
  ]
  for (const row of rows) {
    it(`${row.outcome} → ${row.expected}`, () => {
      assert.equal(isErrorOutcome(row.outcome), row.expected)
    })
  }
})

describe('policy/revalidation staleIfErrorAllowed', () => {
  const rows: ReadonlyArray<{
    name: string
    age: number
    lifetime: number
    res?: Partial<ResponseDirectives>
    req?: Partial<RequestDirectives>
    opts?: RowOptions
    expected: boolean
  }> = [
    { name: 'nothing allows it', age: 70, lifetime: 60, expected: false },
    { name: 'option window covers staleness', age: 65, lifetime: 60, opts: { staleIfError: 10 }, expected: true },
    { name: 'option window edge is inclusive', age: 70, lifetime: 60, opts: { staleIfError: 10 }, expected: true },
    { name: 'option window just exceeded', age: 71, lifetime: 60, opts: { staleIfError: 10 }, expected: false },
    { name: 'option true allows any staleness', age: 1e6, lifetime: 60, opts: { staleIfError: Infinity }, expected: true },
    { name: 'response stale-if-error', age: 90, lifetime: 60, res: { staleIfError: 30 }, expected: true },
    { name: 'response stale-if-error exceeded', age: 91, lifetime: 60, res: { staleIfError: 30 }, expected: false },
    { name: 'request stale-if-error', age: 90, lifetime: 60, req: { staleIfError: 30 }, expected: true },
    { name: 'largest window wins', age: 100, lifetime: 60, res: { staleIfError: 10 }, req: { staleIfError: 5 }, opts: { staleIfError: 40 }, expected: true },
    { name: 'stale-while-revalidate does not count', age: 70, lifetime: 60, res: { staleWhileRevalidate: 100 }, opts: { staleWhileRevalidate: 100 }, expected: false },
    { name: 'must-revalidate forbids it', age: 70, lifetime: 60, res: { mustRevalidate: true, staleIfError: 100 }, opts: { staleIfError: Infinity }, expected: false },
    { name: 'response no-cache forbids it', age: 70, lifetime: 60, res: { noCache: true, staleIfError: 100 }, expected: false },
    { name: 'response no-cache forbids even a fresh entry', age: 10, lifetime: 60, res: { noCache: true }, expected: false },
    { name: 'qualified no-cache does not forbid it', age: 70, lifetime: 60, res: { noCache: ['set-cookie'], staleIfError: 100 }, expected: true },
    { name: 'fresh entry is allowed', age: 10, lifetime: 60, expected: true },
    { name: 'fresh entry with must-revalidate is allowed', age: 10, lifetime: 60, res: { mustRevalidate: true }, expected: true },
    { name: 'age == lifetime is stale and needs a window', age: 60, lifetime: 60, expected: false },
    { name: 'invalid freshness counts staleness from 0', age: 20, lifetime: 60, res: { invalid: true, staleIfError: 10 }, expected: false },
    { name: 'invalid freshness within window', age: 10, lifetime: 60, res: { invalid: true, staleIfError: 10 }, expected: true },
    { name: 'cacheControl false ignores must-revalidate', age: 70, lifetime: 60, res: { mustRevalidate: true }, opts: { cacheControl: false, staleIfError: 10 }, expected: true },
    { name: 'cacheControl false ignores the response window', age: 70, lifetime: 60, res: { staleIfError: 100 }, opts: { cacheControl: false }, expected: false },
    { name: 'cacheControl false honours the request window', age: 70, lifetime: 60, req: { staleIfError: 100 }, opts: { cacheControl: false }, expected: true },
    { name: 'shared: proxy-revalidate forbids it (§5.2.2.8)', age: 70, lifetime: 60, res: { proxyRevalidate: true }, opts: { shared: true, staleIfError: 100 }, expected: false },
    { name: 'shared: s-maxage forbids it (§5.2.2.10)', age: 70, lifetime: 60, res: { sMaxAge: 60 }, opts: { shared: true, staleIfError: 100 }, expected: false },
    { name: 'private cache: proxy-revalidate does not', age: 70, lifetime: 60, res: { proxyRevalidate: true }, opts: { staleIfError: 100 }, expected: true },
  ]
  for (const row of rows) {
    it(row.name, () => {
      const { responseDirectives, requestDirectives } = gatedDirectives(row.opts?.cacheControl, row.res, row.req)
      const actual = staleIfErrorAllowed(entry(row.age, row.lifetime), responseDirectives, requestDirectives, options(row.opts), NOW)
      assert.equal(actual, row.expected)
    })
  }
})

describe('policy/revalidation notModifiedMatches', () => {
  const LM = 'Sun, 06 Nov 1994 08:49:37 GMT'
  const rows: ReadonlyArray<{ name: string; stored: HeaderRecord; notModified: HeaderRecord; expected: boolean }> = [
    { name: 'same strong ETag', stored: { etag: '"a"' }, notModified: { etag: '"a"' }, expected: true },
    { name: 'different strong ETag', stored: { etag: '"a"' }, notModified: { etag: '"b"' }, expected: false },
    { name: 'strong ETag against a weak stored one', stored: { etag: 'W/"a"' }, notModified: { etag: '"a"' }, expected: false },
    { name: 'strong ETag against none stored', stored: { 'last-modified': LM }, notModified: { etag: '"a"' }, expected: false },
    { name: 'strong ETag mismatched even with equal Last-Modified', stored: { etag: '"a"', 'last-modified': LM }, notModified: { etag: '"b"', 'last-modified': LM }, expected: false },
    { name: 'weak ETag matches weak stored', stored: { etag: 'W/"a"' }, notModified: { etag: 'W/"a"' }, expected: true },
    { name: 'weak ETag matches strong stored (weak comparison)', stored: { etag: '"a"' }, notModified: { etag: 'W/"a"' }, expected: true },
    { name: 'weak ETag mismatch', stored: { etag: 'W/"a"' }, notModified: { etag: 'W/"b"' }, expected: false },
    { name: 'ETag whitespace is ignored', stored: { etag: '"a" ' }, notModified: { etag: ' "a"' }, expected: true },
    { name: 'same Last-Modified', stored: { 'last-modified': LM }, notModified: { 'last-modified': LM }, expected: true },
    { name: 'same instant in another date form', stored: { 'last-modified': LM }, notModified: { 'last-modified': 'Sunday, 06-Nov-94 08:49:37 GMT' }, expected: true },
    { name: 'different Last-Modified', stored: { 'last-modified': LM }, notModified: { 'last-modified': 'Mon, 07 Nov 1994 08:49:37 GMT' }, expected: false },
    { name: 'Last-Modified against none stored', stored: { etag: '"a"' }, notModified: { 'last-modified': LM }, expected: false },
    { name: 'unparsable Last-Modified compared as text', stored: { 'last-modified': 'x' }, notModified: { 'last-modified': 'x' }, expected: true },
    { name: 'no validators in the 304', stored: { etag: '"a"', 'last-modified': LM }, notModified: { date: LM }, expected: true },
    { name: 'no validators anywhere', stored: {}, notModified: {}, expected: true },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(notModifiedMatches(row.stored, row.notModified), row.expected)
    })
  }
})

describe('policy/revalidation mergeNotModified', () => {
  const rows: ReadonlyArray<{ name: string; stored: HeaderRecord; notModified: HeaderRecord; expected: MutableHeaderRecord }> = [
    {
      name: 'freshness and validator fields are replaced',
      stored: { date: 'old', 'cache-control': 'max-age=60', expires: 'e1', etag: '"a"', 'last-modified': 'l1', 'content-type': 'text/plain' },
      notModified: { date: 'new', 'cache-control': 'max-age=120', expires: 'e2', etag: '"b"', 'last-modified': 'l2' },
      expected: { date: 'new', 'cache-control': 'max-age=120', expires: 'e2', etag: '"b"', 'last-modified': 'l2', 'content-type': 'text/plain' },
    },
    {
      name: 'new fields are added',
      stored: { 'content-type': 'text/plain' },
      notModified: { 'x-request-id': '42', vary: 'accept' },
      expected: { 'content-type': 'text/plain', 'x-request-id': '42', vary: 'accept' },
    },
    {
      name: 'multi-line fields replace as a whole',
      stored: { link: ['<a>', '<b>'] },
      notModified: { link: '<c>' },
      expected: { link: '<c>' },
    },
    {
      name: 'content-length is never updated',
      stored: { 'content-length': '10' },
      notModified: { 'content-length': '0' },
      expected: { 'content-length': '10' },
    },
    {
      name: 'body-dependent fields are kept',
      stored: { 'content-encoding': 'gzip', 'content-range': 'bytes 0-9/10', 'content-digest': 'sha-256=:a:', 'content-md5': 'QUFB' },
      notModified: { 'content-encoding': 'br', 'content-range': 'bytes 0-0/1', 'content-digest': 'sha-256=:b:', 'content-md5': 'QkJC' },
      expected: { 'content-encoding': 'gzip', 'content-range': 'bytes 0-9/10', 'content-digest': 'sha-256=:a:', 'content-md5': 'QUFB' },
    },
    {
      name: 'hop-by-hop fields are not copied',
      stored: { 'content-type': 'text/plain' },
      notModified: { connection: 'keep-alive', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', te: 'trailers', upgrade: 'h2c', trailer: 'x', 'proxy-authenticate': 'Basic' },
      expected: { 'content-type': 'text/plain' },
    },
    {
      name: 'fields listed in Connection are not copied',
      stored: { 'x-kept': '1' },
      notModified: { connection: 'X-Hop, close', 'x-hop': 'secret', 'x-other': 'yes' },
      expected: { 'x-kept': '1', 'x-other': 'yes' },
    },
    {
      name: 'age is dropped, stored and new',
      stored: { age: '100', etag: '"a"' },
      notModified: { age: '5' },
      expected: { etag: '"a"' },
    },
    {
      name: 'set-cookie and proxy-authentication-info are not stored',
      stored: { etag: '"a"' },
      notModified: { 'set-cookie': 'sid=1', 'proxy-authentication-info': 'x' },
      expected: { etag: '"a"' },
    },
    {
      name: 'a __proto__ field stays an own property',
      stored: {},
      notModified: JSON.parse('{"__proto__": ["x"]}') as HeaderRecord,
      expected: JSON.parse('{"__proto__": ["x"]}') as MutableHeaderRecord,
    },
  ]
  for (const row of rows) {
    it(row.name, () => {
      const merged = mergeNotModified(row.stored, row.notModified)
      assert.deepEqual(merged, row.expected)
      assert.equal(Object.getPrototypeOf(merged), Object.prototype)
    })
  }

  it('does not share arrays with its inputs', () => {
    const stored = { link: ['<a>'] }
    const merged = mergeNotModified(stored, {})
    assert.notEqual(merged['link'], stored.link)
    assert.deepEqual(merged['link'], ['<a>'])
  })
})

describe('policy/revalidation headResponseMatches (RFC 9111 §4.3.5)', () => {
  // §4.3.5: update "if the stored response and HEAD response have matching values for any received
  // validator fields (ETag and Last-Modified) and, if the HEAD response has a Content-Length header
  // field, the value of Content-Length matches that of the stored response".
  const LM = 'Tue, 01 Oct 2024 10:00:00 GMT'
  const rows: { name: string; stored: HeaderRecord; head: HeaderRecord; storedLength?: number; expected: boolean }[] = [
    { name: 'same strong ETag', stored: { etag: '"a"' }, head: { etag: '"a"' }, expected: true },
    { name: 'different strong ETag', stored: { etag: '"a"' }, head: { etag: '"b"' }, expected: false },
    { name: 'same weak ETag (weak comparison, as for a 304)', stored: { etag: 'W/"a"' }, head: { etag: 'W/"a"' }, expected: true },
    { name: 'strong ETag against a weak stored one', stored: { etag: 'W/"a"' }, head: { etag: '"a"' }, expected: false },
    { name: 'an ETag received, none stored: not matching', stored: {}, head: { etag: '"a"' }, expected: false },
    { name: 'no ETag received: the stored one is not compared', stored: { etag: '"a"' }, head: {}, expected: true },
    { name: 'same Last-Modified, no tags', stored: { 'last-modified': LM }, head: { 'last-modified': LM }, expected: true },
    { name: 'different Last-Modified', stored: { 'last-modified': LM }, head: { 'last-modified': 'Wed, 02 Oct 2024 10:00:00 GMT' }, expected: false },
    { name: 'a Last-Modified received, none stored', stored: {}, head: { 'last-modified': LM }, expected: false },
    { name: 'same ETag, different Last-Modified: every received validator must match', stored: { etag: '"a"', 'last-modified': LM }, head: { etag: '"a"', 'last-modified': 'Wed, 02 Oct 2024 10:00:00 GMT' }, expected: false },
    { name: 'no validator received at all (cache-tests head-200-update)', stored: {}, head: {}, expected: true },
    { name: 'same ETag but a different Content-Length', stored: { etag: '"a"', 'content-length': '10' }, head: { etag: '"a"', 'content-length': '11' }, expected: false },
    { name: 'same ETag and Content-Length', stored: { etag: '"a"', 'content-length': '10' }, head: { etag: '"a"', 'content-length': '10' }, expected: true },
    { name: 'no Content-Length in the HEAD: not compared', stored: { 'content-length': '10' }, head: {}, expected: true },
    { name: 'no Content-Length stored: compared with the stored body size', stored: {}, head: { 'content-length': '10' }, storedLength: 10, expected: true },
    { name: 'no Content-Length stored, another body size', stored: {}, head: { 'content-length': '10' }, storedLength: 9, expected: false },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(headResponseMatches(row.stored, row.head, row.storedLength), row.expected)
    })
  }
})

describe('policy/revalidation answerUnansweredValidation (RFC 9111 §4.2.4, §5.2.2.2)', () => {
  // §4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an explicit in-protocol
  // directive"; §5.2.2.2: "if a cache is disconnected, the cache MUST generate an error response rather
  // than reuse the stale response. The generated status code SHOULD be 504 (Gateway Timeout)".
  const rows: ReadonlyArray<{
    name: string
    age: number
    lifetime: number
    res?: Partial<ResponseDirectives>
    req?: Partial<RequestDirectives>
    opts?: RowOptions
    expected: UnansweredValidation
  }> = [
    { name: 'plain stale, no stale-if-error: the error, as on a miss', age: 70, lifetime: 60, expected: 'pass-error' },
    { name: 'plain stale within stale-if-error (RFC 5861 §4)', age: 70, lifetime: 60, opts: { staleIfError: 30 }, expected: 'serve-stale' },
    { name: 'stale must-revalidate (§5.2.2.2)', age: 70, lifetime: 60, res: { mustRevalidate: true }, expected: 'gateway-timeout' },
    { name: 'stale must-revalidate outweighs stale-if-error', age: 70, lifetime: 60, res: { mustRevalidate: true, staleIfError: 100 }, opts: { staleIfError: Infinity }, expected: 'gateway-timeout' },
    { name: 'age == lifetime is stale (§4.2)', age: 60, lifetime: 60, res: { mustRevalidate: true }, expected: 'gateway-timeout' },
    { name: 'fresh must-revalidate sent for validation by the request: still usable', age: 10, lifetime: 60, res: { mustRevalidate: true }, req: { noCache: true }, expected: 'serve-stale' },
    { name: 'no-cache, stale (§5.2.2.4)', age: 70, lifetime: 60, res: { noCache: true }, expected: 'gateway-timeout' },
    { name: 'no-cache, fresh: never used without validation (§5.2.2.4)', age: 10, lifetime: 60, res: { noCache: true }, opts: { staleIfError: Infinity }, expected: 'gateway-timeout' },
    { name: 'qualified no-cache constrains nothing here', age: 70, lifetime: 60, res: { noCache: ['x-a'] }, expected: 'pass-error' },
    { name: 'shared: stale proxy-revalidate (§5.2.2.8)', age: 70, lifetime: 60, res: { proxyRevalidate: true }, opts: { shared: true, staleIfError: 100 }, expected: 'gateway-timeout' },
    { name: 'shared: stale s-maxage (§5.2.2.10)', age: 70, lifetime: 60, res: { sMaxAge: 60 }, opts: { shared: true }, expected: 'gateway-timeout' },
    { name: 'private: proxy-revalidate does not bind it', age: 70, lifetime: 60, res: { proxyRevalidate: true }, expected: 'pass-error' },
    { name: 'private: s-maxage does not bind it; stale-if-error serves', age: 70, lifetime: 60, res: { sMaxAge: 60 }, opts: { staleIfError: 30 }, expected: 'serve-stale' },
    { name: 'cacheControl false: must-revalidate is not seen', age: 70, lifetime: 60, res: { mustRevalidate: true }, opts: { cacheControl: false }, expected: 'pass-error' },
  ]
  for (const row of rows) {
    it(row.name, () => {
      const { responseDirectives, requestDirectives } = gatedDirectives(row.opts?.cacheControl, row.res, row.req)
      assert.equal(answerUnansweredValidation(entry(row.age, row.lifetime), responseDirectives, requestDirectives, options(row.opts), NOW), row.expected)
    })
  }
})
