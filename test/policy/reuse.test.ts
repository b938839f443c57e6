import assert from 'node:assert/strict'
import type { RequestDirectives, ResponseDirectives } from '../../lib/policy/directives.js'
import { decide, decideWithoutEntry, staleWindow, type Decision, type ReuseOptions } from '../../lib/policy/reuse.js'
import type { HeaderRecord } from '../../lib/headers.js'
import { gatedDirectives } from '../helpers/directives.js'

const NOW = Date.UTC(2024, 0, 1, 12, 0, 0)

/** Reuse options plus the `cacheControl` option, which gates the directives before policy sees them. */
type RowOptions = Partial<ReuseOptions> & { readonly cacheControl?: boolean }

function options(partial: RowOptions = {}): ReuseOptions {
  return { staleWhileRevalidate: partial.staleWhileRevalidate ?? 0, staleIfError: partial.staleIfError ?? 0, shared: partial.shared ?? false, alwaysRevalidate: partial.alwaysRevalidate ?? false }
}

/** An entry whose current age at NOW is `age` seconds, `initialAge` of them from before it was stored. */
function entry(age: number, lifetime: number, initialAge = 0, headers: HeaderRecord = {}, method = 'GET') {
  return { initialAge, responseTime: NOW - (age - initialAge) * 1000, lifetime, method, headers }
}

interface DecideRow {
  readonly name: string
  readonly age: number
  readonly lifetime: number
  readonly initialAge?: number
  /** The stored response's fields (its validators, for alwaysRevalidate), and the method it answered. */
  readonly headers?: HeaderRecord
  readonly method?: string
  readonly res?: Partial<ResponseDirectives>
  readonly req?: Partial<RequestDirectives>
  readonly opts?: RowOptions
  readonly expected: Decision
}

const hit = (age: number, ttl: number, stale = false): Decision => ({ kind: 'hit', age, ttl, stale })
const swr = (age: number, ttl: number): Decision => ({ kind: 'stale-while-revalidate', age, ttl })
const revalidate = (age: number, reason: Extract<Decision, { kind: 'revalidate' }>['reason']): Decision => ({ kind: 'revalidate', age, reason })
const gatewayTimeout: Decision = { kind: 'gateway-timeout' }

const decideRows: readonly DecideRow[] = [
  // freshness boundaries (§4.2)
  { name: 'age 0 is fresh', age: 0, lifetime: 60, expected: hit(0, 60) },
  { name: 'age below lifetime is fresh', age: 59, lifetime: 60, expected: hit(59, 1) },
  { name: 'age == lifetime is stale', age: 60, lifetime: 60, expected: revalidate(60, 'stale') },
  { name: 'age past lifetime is stale', age: 61, lifetime: 60, expected: revalidate(61, 'stale') },
  { name: 'initial age counts toward age', age: 50, initialAge: 30, lifetime: 60, expected: hit(50, 10) },
  { name: 'initial age alone can make it stale', age: 60, initialAge: 60, lifetime: 60, expected: revalidate(60, 'stale') },
  { name: 'lifetime 0 is stale at once', age: 0, lifetime: 0, expected: revalidate(0, 'stale') },
  { name: 'lifetime Infinity never goes stale', age: 1e9, lifetime: Infinity, expected: hit(1e9, Infinity) },
  // response no-cache (§5.2.2.4)
  { name: 'response no-cache revalidates even when fresh', age: 1, lifetime: 60, res: { noCache: true }, expected: revalidate(1, 'no-cache-response') },
  { name: 'qualified response no-cache does not constrain reuse', age: 1, lifetime: 60, res: { noCache: ['set-cookie'] }, expected: hit(1, 59) },
  // request no-cache (§5.2.1.4)
  { name: 'request no-cache revalidates a fresh entry', age: 1, lifetime: 60, req: { noCache: true }, expected: revalidate(1, 'no-cache-request') },
  // request max-age (§5.2.1.1)
  { name: 'request max-age equal to age is acceptable', age: 10, lifetime: 60, req: { maxAge: 10 }, expected: hit(10, 50) },
  { name: 'request max-age below age revalidates', age: 11, lifetime: 60, req: { maxAge: 10 }, expected: revalidate(11, 'max-age-request') },
  { name: 'request max-age=0 accepts age 0', age: 0, lifetime: 60, req: { maxAge: 0 }, expected: hit(0, 60) },
  { name: 'request max-age=0 revalidates age 1', age: 1, lifetime: 60, req: { maxAge: 0 }, expected: revalidate(1, 'max-age-request') },
  { name: 'request max-age is not loosened by max-stale', age: 70, lifetime: 60, req: { maxAge: 30, maxStale: 100 }, expected: revalidate(70, 'max-age-request') },
  // request min-fresh (§5.2.1.3)
  { name: 'min-fresh equal to remaining freshness is acceptable', age: 10, lifetime: 60, req: { minFresh: 50 }, expected: hit(10, 50) },
  { name: 'min-fresh above remaining freshness revalidates', age: 10, lifetime: 60, req: { minFresh: 51 }, expected: revalidate(10, 'min-fresh-request') },
  { name: 'min-fresh outweighs max-stale on a stale entry', age: 70, lifetime: 60, req: { minFresh: 0, maxStale: 100 }, expected: revalidate(70, 'stale') },
  { name: 'min-fresh outweighs stale-while-revalidate', age: 70, lifetime: 60, req: { minFresh: 0 }, res: { staleWhileRevalidate: 100 }, expected: revalidate(70, 'stale') },
  // request max-stale (§5.2.1.2)
  { name: 'max-stale within staleness serves stale', age: 70, lifetime: 60, req: { maxStale: 10 }, expected: hit(70, -10, true) },
  { name: 'max-stale below staleness revalidates', age: 70, lifetime: 60, req: { maxStale: 9 }, expected: revalidate(70, 'stale') },
  { name: 'max-stale=0 accepts age == lifetime', age: 60, lifetime: 60, req: { maxStale: 0 }, expected: hit(60, 0, true) },
  { name: 'bare max-stale accepts any staleness', age: 1e6, lifetime: 60, req: { maxStale: Infinity }, expected: hit(1e6, 60 - 1e6, true) },
  { name: 'max-stale does not touch a fresh entry', age: 10, lifetime: 60, req: { maxStale: 10 }, expected: hit(10, 50) },
  // must-revalidate (§5.2.2.2, §4.2.4)
  { name: 'must-revalidate leaves a fresh entry alone', age: 10, lifetime: 60, res: { mustRevalidate: true }, expected: hit(10, 50) },
  { name: 'must-revalidate blocks max-stale', age: 70, lifetime: 60, res: { mustRevalidate: true }, req: { maxStale: 100 }, expected: revalidate(70, 'stale') },
  { name: 'must-revalidate blocks response stale-while-revalidate', age: 70, lifetime: 60, res: { mustRevalidate: true, staleWhileRevalidate: 100 }, expected: revalidate(70, 'stale') },
  { name: 'must-revalidate blocks the swr option', age: 70, lifetime: 60, res: { mustRevalidate: true }, opts: { staleWhileRevalidate: Infinity }, expected: revalidate(70, 'stale') },
  // shared-cache-only directives are ignored by a private cache (type: 'private')
  { name: 'private cache: proxy-revalidate does not block max-stale', age: 70, lifetime: 60, res: { proxyRevalidate: true }, req: { maxStale: 10 }, expected: hit(70, -10, true) },
  { name: 'private cache: s-maxage does not block stale-while-revalidate', age: 70, lifetime: 60, res: { sMaxAge: 1000, staleWhileRevalidate: 30 }, expected: swr(70, -10) },
  // ... and bind a shared one (type: 'shared', the default)
  { name: 'shared: proxy-revalidate blocks max-stale (§5.2.2.8)', age: 70, lifetime: 60, res: { proxyRevalidate: true }, req: { maxStale: 10 }, opts: { shared: true }, expected: revalidate(70, 'stale') },
  { name: 'shared: proxy-revalidate blocks stale-while-revalidate (§5.2.2.8)', age: 70, lifetime: 60, res: { proxyRevalidate: true, staleWhileRevalidate: 30 }, opts: { shared: true }, expected: revalidate(70, 'stale') },
  { name: 'shared: s-maxage implies proxy-revalidate (§5.2.2.10)', age: 70, lifetime: 60, res: { sMaxAge: 60 }, req: { maxStale: 100 }, opts: { shared: true }, expected: revalidate(70, 'stale') },
  { name: 'shared: proxy-revalidate leaves a fresh entry alone', age: 10, lifetime: 60, res: { proxyRevalidate: true }, opts: { shared: true }, expected: hit(10, 50) },
  { name: 'immutable fresh is a plain hit', age: 10, lifetime: 60, res: { immutable: true }, expected: hit(10, 50) },
  { name: 'immutable does not override request no-cache', age: 10, lifetime: 60, res: { immutable: true }, req: { noCache: true }, expected: revalidate(10, 'no-cache-request') },
  // stale-while-revalidate (RFC 5861 §3)
  { name: 'swr directive at staleness 0', age: 60, lifetime: 60, res: { staleWhileRevalidate: 30 }, expected: swr(60, 0) },
  { name: 'swr directive at the window edge', age: 90, lifetime: 60, res: { staleWhileRevalidate: 30 }, expected: swr(90, -30) },
  { name: 'swr directive just past the window', age: 91, lifetime: 60, res: { staleWhileRevalidate: 30 }, expected: revalidate(91, 'stale') },
  { name: 'swr window is the larger of option and directive', age: 80, lifetime: 60, res: { staleWhileRevalidate: 10 }, opts: { staleWhileRevalidate: 30 }, expected: swr(80, -20) },
  { name: 'swr directive larger than option', age: 80, lifetime: 60, res: { staleWhileRevalidate: 30 }, opts: { staleWhileRevalidate: 10 }, expected: swr(80, -20) },
  { name: 'swr option true covers any staleness', age: 1e6, lifetime: 60, opts: { staleWhileRevalidate: Infinity }, expected: swr(1e6, 60 - 1e6) },
  { name: 'swr window 0 is off even at age == lifetime', age: 60, lifetime: 60, res: { staleWhileRevalidate: 0 }, expected: revalidate(60, 'stale') },
  { name: 'swr does not apply to a fresh entry', age: 10, lifetime: 60, res: { staleWhileRevalidate: 30 }, expected: hit(10, 50) },
  { name: 'swr blocked by response no-cache', age: 70, lifetime: 60, res: { noCache: true, staleWhileRevalidate: 30 }, expected: revalidate(70, 'no-cache-response') },
  { name: 'swr blocked by request no-cache', age: 70, lifetime: 60, res: { staleWhileRevalidate: 30 }, req: { noCache: true }, expected: revalidate(70, 'no-cache-request') },
  { name: 'swr blocked by request max-age', age: 70, lifetime: 60, res: { staleWhileRevalidate: 30 }, req: { maxAge: 60 }, expected: revalidate(70, 'max-age-request') },
  { name: 'max-stale wins over swr (no background fetch)', age: 70, lifetime: 60, res: { staleWhileRevalidate: 30 }, req: { maxStale: 10 }, expected: hit(70, -10, true) },
  { name: 'swr applies when max-stale is too small', age: 70, lifetime: 60, res: { staleWhileRevalidate: 30 }, req: { maxStale: 5 }, expected: swr(70, -10) },
  // invalid freshness (§4.2.1)
  { name: 'invalid freshness revalidates despite a lifetime', age: 10, lifetime: 60, res: { invalid: true }, expected: revalidate(10, 'invalid-freshness') },
  { name: 'invalid freshness counts staleness from 0 for max-stale', age: 10, lifetime: 60, res: { invalid: true }, req: { maxStale: 10 }, expected: hit(10, -10, true) },
  { name: 'invalid freshness past max-stale', age: 11, lifetime: 60, res: { invalid: true }, req: { maxStale: 10 }, expected: revalidate(11, 'invalid-freshness') },
  { name: 'invalid freshness within swr window', age: 10, lifetime: 60, res: { invalid: true, staleWhileRevalidate: 30 }, expected: swr(10, -10) },
  { name: 'invalid freshness with must-revalidate', age: 10, lifetime: 60, res: { invalid: true, mustRevalidate: true }, req: { maxStale: 100 }, expected: revalidate(10, 'invalid-freshness') },
  // only-if-cached (§5.2.1.7)
  { name: 'only-if-cached with a fresh entry is a hit', age: 10, lifetime: 60, req: { onlyIfCached: true }, expected: hit(10, 50) },
  { name: 'only-if-cached with a stale entry is a 504', age: 70, lifetime: 60, req: { onlyIfCached: true }, expected: gatewayTimeout },
  { name: 'only-if-cached with max-stale allowing it is a stale hit', age: 70, lifetime: 60, req: { onlyIfCached: true, maxStale: 10 }, expected: hit(70, -10, true) },
  { name: 'only-if-cached with max-stale too small is a 504', age: 71, lifetime: 60, req: { onlyIfCached: true, maxStale: 10 }, expected: gatewayTimeout },
  { name: 'only-if-cached within swr is a stale hit without fetch', age: 70, lifetime: 60, res: { staleWhileRevalidate: 30 }, req: { onlyIfCached: true }, expected: hit(70, -10, true) },
  { name: 'only-if-cached with response no-cache is a 504', age: 10, lifetime: 60, res: { noCache: true }, req: { onlyIfCached: true }, expected: gatewayTimeout },
  { name: 'only-if-cached with request no-cache is a 504', age: 10, lifetime: 60, req: { onlyIfCached: true, noCache: true }, expected: gatewayTimeout },
  { name: 'only-if-cached with must-revalidate stale is a 504', age: 70, lifetime: 60, res: { mustRevalidate: true }, req: { onlyIfCached: true, maxStale: 100 }, expected: gatewayTimeout },
  { name: 'only-if-cached with min-fresh unmet is a 504', age: 10, lifetime: 60, req: { onlyIfCached: true, minFresh: 55 }, expected: gatewayTimeout },
  // cacheControl: false ignores the response's directives and honours the request's (requests-cache)
  { name: 'cacheControl false honours request no-cache', age: 10, lifetime: 60, req: { noCache: true }, opts: { cacheControl: false }, expected: revalidate(10, 'no-cache-request') },
  { name: 'cacheControl false honours request max-stale', age: 70, lifetime: 60, req: { maxStale: 100 }, opts: { cacheControl: false }, expected: hit(70, -10, true) },
  { name: 'cacheControl false honours only-if-cached', age: 70, lifetime: 60, req: { onlyIfCached: true }, opts: { cacheControl: false }, expected: gatewayTimeout },
  { name: 'cacheControl false ignores response no-cache', age: 10, lifetime: 60, res: { noCache: true }, opts: { cacheControl: false }, expected: hit(10, 50) },
  { name: 'cacheControl false ignores invalid freshness', age: 10, lifetime: 60, res: { invalid: true }, opts: { cacheControl: false }, expected: hit(10, 50) },
  { name: 'cacheControl false ignores must-revalidate, keeps swr option', age: 70, lifetime: 60, res: { mustRevalidate: true }, opts: { cacheControl: false, staleWhileRevalidate: 30 }, expected: swr(70, -10) },
  // alwaysRevalidate (requests-cache always_revalidate): validate before every use when a validator allows it
  { name: 'alwaysRevalidate validates a fresh entry with an ETag', age: 10, lifetime: 60, headers: { etag: '"a"' }, opts: { alwaysRevalidate: true }, expected: revalidate(10, 'always-revalidate') },
  { name: 'alwaysRevalidate validates a fresh entry with a Last-Modified', age: 10, lifetime: 60, headers: { 'last-modified': 'Mon, 01 Jan 2024 10:00:00 GMT' }, opts: { alwaysRevalidate: true }, expected: revalidate(10, 'always-revalidate') },
  { name: 'alwaysRevalidate serves a fresh entry without a validator', age: 10, lifetime: 60, headers: { 'last-modified': 'yesterday' }, opts: { alwaysRevalidate: true }, expected: hit(10, 50) },
  { name: 'alwaysRevalidate serves a fresh immutable entry', age: 10, lifetime: 60, headers: { etag: '"a"' }, res: { immutable: true }, opts: { alwaysRevalidate: true }, expected: hit(10, 50) },
  { name: 'alwaysRevalidate leaves a stale entry to the usual rules: validated as stale', age: 70, lifetime: 60, headers: { etag: '"a"' }, opts: { alwaysRevalidate: true }, expected: revalidate(70, 'stale') },
  { name: 'alwaysRevalidate leaves a stale entry to the usual rules: its swr window', age: 70, lifetime: 60, headers: { etag: '"a"' }, opts: { alwaysRevalidate: true, staleWhileRevalidate: 30 }, expected: swr(70, -10) },
  { name: 'alwaysRevalidate leaves a stale entry to the usual rules: the request max-stale', age: 70, lifetime: 60, headers: { etag: '"a"' }, req: { maxStale: 100 }, opts: { alwaysRevalidate: true }, expected: hit(70, -10, true) },
  { name: 'alwaysRevalidate serves a fresh stored POST (a conditional POST would get 412)', age: 10, lifetime: 60, headers: { etag: '"a"' }, method: 'POST', opts: { alwaysRevalidate: true }, expected: hit(10, 50) },
  { name: 'alwaysRevalidate gives way to only-if-cached', age: 10, lifetime: 60, headers: { etag: '"a"' }, req: { onlyIfCached: true }, opts: { alwaysRevalidate: true }, expected: hit(10, 50) },
  { name: 'alwaysRevalidate gives way to response no-cache', age: 10, lifetime: 60, headers: { etag: '"a"' }, res: { noCache: true }, opts: { alwaysRevalidate: true }, expected: revalidate(10, 'no-cache-response') },
  { name: 'cacheControl false ignores the swr directive', age: 70, lifetime: 60, res: { staleWhileRevalidate: 30 }, opts: { cacheControl: false }, expected: revalidate(70, 'stale') },
]

describe('policy/reuse decide', () => {
  for (const row of decideRows) {
    it(row.name, () => {
      const { responseDirectives, requestDirectives } = gatedDirectives(row.opts?.cacheControl, row.res, row.req)
      const actual = decide(entry(row.age, row.lifetime, row.initialAge, row.headers, row.method), responseDirectives, requestDirectives, options(row.opts), NOW)
      assert.deepEqual(actual, row.expected)
    })
  }
})

describe('policy/reuse decideWithoutEntry', () => {
  const rows: ReadonlyArray<{ name: string; req: Partial<RequestDirectives>; opts?: RowOptions; expected: 'miss' | 'gateway-timeout' }> = [
    { name: 'plain request is a miss', req: {}, expected: 'miss' },
    { name: 'only-if-cached is a 504', req: { onlyIfCached: true }, expected: 'gateway-timeout' },
    { name: 'only-if-cached with max-stale is still a 504', req: { onlyIfCached: true, maxStale: Infinity }, expected: 'gateway-timeout' },
    { name: 'request no-cache is a miss', req: { noCache: true }, expected: 'miss' },
    { name: 'only-if-cached honoured when cacheControl is false', req: { onlyIfCached: true }, opts: { cacheControl: false }, expected: 'gateway-timeout' },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(decideWithoutEntry(gatedDirectives(row.opts?.cacheControl, {}, row.req).requestDirectives), row.expected)
    })
  }
})

describe('policy/reuse staleWindow', () => {
  const rows: ReadonlyArray<{ name: string; res: Partial<ResponseDirectives>; opts?: RowOptions; expected: number }> = [
    { name: 'nothing allows stale use', res: {}, expected: 0 },
    { name: 'response stale-while-revalidate', res: { staleWhileRevalidate: 30 }, expected: 30 },
    { name: 'response stale-if-error', res: { staleIfError: 60 }, expected: 60 },
    { name: 'largest of directives and options', res: { staleWhileRevalidate: 30, staleIfError: 60 }, opts: { staleWhileRevalidate: 10, staleIfError: 120 }, expected: 120 },
    { name: 'option true is Infinity', res: { staleWhileRevalidate: 30 }, opts: { staleIfError: Infinity }, expected: Infinity },
    { name: 'must-revalidate forbids stale use', res: { mustRevalidate: true, staleWhileRevalidate: 30 }, opts: { staleIfError: 60 }, expected: 0 },
    { name: 'unqualified no-cache forbids stale use', res: { noCache: true, staleIfError: 30 }, expected: 0 },
    { name: 'qualified no-cache does not', res: { noCache: ['set-cookie'], staleIfError: 30 }, expected: 30 },
    { name: 'cacheControl false: options only, must-revalidate ignored', res: { mustRevalidate: true, staleWhileRevalidate: 100 }, opts: { cacheControl: false, staleIfError: 10 }, expected: 10 },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(staleWindow(gatedDirectives(row.opts?.cacheControl, row.res, {}).responseDirectives, options(row.opts)), row.expected)
    })
  }
})
