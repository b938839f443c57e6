import assert from 'node:assert/strict'
import type { HeaderRecord } from '../../lib/headers.js'
import type { CacheResponse } from '../../lib/http.js'
import type { ResponseDirectives } from '../../lib/policy/directives.js'
import type { Expiration } from '../../lib/policy/expire-after.js'
import {
  correctedInitialAge,
  decideLifetime,
  explicitLifetime,
  HEURISTIC_FRACTION,
  HEURISTIC_MAX_SECONDS,
  HEURISTICALLY_CACHEABLE,
  heuristicLifetime,
  type Lifetime,
} from '../../lib/policy/freshness.js'
import { resDirectives } from '../helpers/directives.js'

// T0 = Sun, 06 Nov 1994 08:49:37 GMT. Other dates below are written out by hand relative to it.
const T0 = 784111777000
const DATE_T0 = 'Sun, 06 Nov 1994 08:49:37 GMT'
const T0_MINUS_5M = 'Sun, 06 Nov 1994 08:44:37 GMT'
const T0_MINUS_1H = 'Sun, 06 Nov 1994 07:49:37 GMT'
const T0_PLUS_1M = 'Sun, 06 Nov 1994 08:50:37 GMT'
const T0_PLUS_1H = 'Sun, 06 Nov 1994 09:49:37 GMT'
const T0_MINUS_1D = 'Sat, 05 Nov 1994 08:49:37 GMT'
const T0_MINUS_31D = 'Thu, 06 Oct 1994 08:49:37 GMT'

function res(status: number, headers: HeaderRecord): CacheResponse {
  return { status, statusText: '', headers }
}

describe('policy/freshness constants', () => {
  it('heuristically cacheable statuses are those of RFC 9110 §15.1', () => {
    assert.deepEqual([...HEURISTICALLY_CACHEABLE].sort((a, b) => a - b), [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501])
  })
  it('heuristic is 10% capped at a day (RFC 9111 §4.2.2)', () => {
    assert.deepEqual([HEURISTIC_FRACTION, HEURISTIC_MAX_SECONDS], [0.1, 86400])
  })
})

describe('policy/freshness explicitLifetime', () => {
  const rows: ReadonlyArray<{ name: string; res: CacheResponse; d: ResponseDirectives; responseTime?: number; shared?: boolean; expected: number | undefined }> = [
    { name: 'max-age (§4.2.1)', res: res(200, { date: DATE_T0 }), d: resDirectives({ maxAge: 60 }), expected: 60 },
    { name: 'max-age=0', res: res(200, {}), d: resDirectives({ maxAge: 0 }), expected: 0 },
    { name: 'max-age wins over Expires (§4.2.1)', res: res(200, { date: DATE_T0, expires: T0_PLUS_1H }), d: resDirectives({ maxAge: 60 }), expected: 60 },
    { name: 'invalid directives: stale (§4.2.1)', res: res(200, { date: DATE_T0, expires: T0_PLUS_1H }), d: resDirectives({ invalid: true }), expected: 0 },
    { name: 'Expires minus Date (§4.2.1)', res: res(200, { date: DATE_T0, expires: T0_PLUS_1H }), d: resDirectives(), expected: 3600 },
    { name: 'Expires minus Date, not minus response time', res: res(200, { date: DATE_T0, expires: T0_PLUS_1M }), d: resDirectives(), responseTime: T0 + 30_000, expected: 60 },
    { name: 'Date missing: Expires minus response time (RFC 9110 §6.6.1)', res: res(200, { expires: T0_PLUS_1M }), d: resDirectives(), responseTime: T0 + 10_000, expected: 50 },
    { name: 'Date invalid: Expires minus response time', res: res(200, { date: 'garbage', expires: T0_PLUS_1M }), d: resDirectives(), expected: 60 },
    { name: 'Expires in the past (§4.2.1)', res: res(200, { date: DATE_T0, expires: T0_MINUS_1H }), d: resDirectives(), expected: 0 },
    { name: 'Expires: 0 is in the past (§5.3)', res: res(200, { date: DATE_T0, expires: '0' }), d: resDirectives(), expected: 0 },
    { name: 'Expires: -1 is in the past (§5.3)', res: res(200, { date: DATE_T0, expires: '-1' }), d: resDirectives(), expected: 0 },
    // RFC 9111 §5.3: "A cache recipient MUST interpret invalid date formats, especially the value "0", as
    // representing a time in the past"; §4.2: a zone other than GMT is invalid for expiration.
    { name: 'Expires in UTC is invalid, so stale (§4.2, §5.3)', res: res(200, { date: DATE_T0, expires: 'Sun, 06 Nov 1994 09:49:37 UTC' }), d: resDirectives(), expected: 0 },
    { name: 'Expires with doubled spaces is invalid, so stale (§5.3)', res: res(200, { date: DATE_T0, expires: 'Sun, 06  Nov  1994 09:49:37 GMT' }), d: resDirectives(), expected: 0 },
    { name: 'Expires in any case is valid (§4.2 case-insensitive)', res: res(200, { date: DATE_T0, expires: 'SUN, 06 NOV 1994 09:49:37 gmt' }), d: resDirectives(), expected: 3600 },
    { name: 'Expires in RFC 850 form (RFC 9110 §5.6.7)', res: res(200, { date: DATE_T0, expires: 'Sunday, 06-Nov-94 09:49:37 GMT' }), d: resDirectives(), expected: 3600 },
    {
      name: 'RFC 850 Expires: a year >50 years after the response time is the past one (RFC 9110 §5.6.7)',
      res: res(200, { date: DATE_T0, expires: 'Friday, 18-Aug-50 02:01:18 GMT' }),
      d: resDirectives(),
      expected: 0,
    },
    { name: 'Date in UTC is invalid: Expires minus response time (RFC 9110 §6.6.1)', res: res(200, { date: 'Sun, 06 Nov 1994 08:49:37 UTC', expires: T0_PLUS_1M }), d: resDirectives(), responseTime: T0 + 10_000, expected: 50 },
    { name: 'several Expires lines: stale (§4.2.1)', res: res(200, { date: DATE_T0, expires: [T0_PLUS_1H, T0_PLUS_1H] }), d: resDirectives(), expected: 0 },
    { name: 'no max-age, no Expires', res: res(200, { date: DATE_T0, 'last-modified': T0_MINUS_1D }), d: resDirectives(), expected: undefined },
    { name: 's-maxage alone is ignored by a private cache (§5.2.2.10)', res: res(200, { date: DATE_T0 }), d: resDirectives({ sMaxAge: 300 }), expected: undefined },
    { name: 's-maxage does not override max-age in a private cache', res: res(200, { date: DATE_T0 }), d: resDirectives({ maxAge: 60, sMaxAge: 300 }), expected: 60 },
    { name: 'shared: s-maxage overrides max-age (§5.2.2.10)', res: res(200, { date: DATE_T0 }), d: resDirectives({ maxAge: 60, sMaxAge: 300 }), shared: true, expected: 300 },
    { name: 'shared: s-maxage overrides Expires (§4.2.1)', res: res(200, { date: DATE_T0, expires: T0_PLUS_1H }), d: resDirectives({ sMaxAge: 30 }), shared: true, expected: 30 },
    { name: 'shared: s-maxage=0 is stale at once', res: res(200, { date: DATE_T0 }), d: resDirectives({ maxAge: 60, sMaxAge: 0 }), shared: true, expected: 0 },
    { name: 'shared: max-age still counts without s-maxage', res: res(200, { date: DATE_T0 }), d: resDirectives({ maxAge: 60 }), shared: true, expected: 60 },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(explicitLifetime(row.res, row.d, row.responseTime ?? T0, row.shared ?? false), row.expected)
    })
  }
})

describe('policy/freshness heuristicLifetime', () => {
  const rows: ReadonlyArray<{ name: string; res: CacheResponse; d: ResponseDirectives; responseTime?: number; shared?: boolean; expected: number | undefined }> = [
    { name: '10% of Date minus Last-Modified (§4.2.2)', res: res(200, { date: DATE_T0, 'last-modified': T0_MINUS_1D }), d: resDirectives(), expected: 8640 },
    { name: 'capped at a day', res: res(200, { date: DATE_T0, 'last-modified': T0_MINUS_31D }), d: resDirectives(), expected: 86400 },
    { name: 'Date missing: response time stands in', res: res(200, { 'last-modified': T0_MINUS_1D }), d: resDirectives(), expected: 8640 },
    { name: 'no Last-Modified: none', res: res(200, { date: DATE_T0 }), d: resDirectives(), expected: undefined },
    { name: 'invalid Last-Modified: none', res: res(200, { date: DATE_T0, 'last-modified': 'yesterday' }), d: resDirectives(), expected: undefined },
    { name: 'Last-Modified in UTC is invalid: none (RFC 9110 §5.6.7)', res: res(200, { date: DATE_T0, 'last-modified': 'Sat, 05 Nov 1994 08:49:37 UTC' }), d: resDirectives(), expected: undefined },
    { name: 'Last-Modified in asctime form (RFC 9110 §5.6.7)', res: res(200, { date: DATE_T0, 'last-modified': 'Sat Nov  5 08:49:37 1994' }), d: resDirectives(), expected: 8640 },
    { name: 'Last-Modified after Date: none', res: res(200, { date: T0_MINUS_1D, 'last-modified': DATE_T0 }), d: resDirectives(), expected: undefined },
    { name: 'Last-Modified equal to Date: none', res: res(200, { date: DATE_T0, 'last-modified': DATE_T0 }), d: resDirectives(), expected: undefined },
    { name: '404 is heuristically cacheable (RFC 9110 §15.1)', res: res(404, { date: DATE_T0, 'last-modified': T0_MINUS_1D }), d: resDirectives(), expected: 8640 },
    { name: '500 is not heuristically cacheable', res: res(500, { date: DATE_T0, 'last-modified': T0_MINUS_1D }), d: resDirectives(), expected: undefined },
    { name: '500 marked public may use heuristics (§4.2.2)', res: res(500, { date: DATE_T0, 'last-modified': T0_MINUS_1D }), d: resDirectives({ public: true }), expected: 8640 },
    { name: 'max-age present: MUST NOT use heuristics (§4.2.2)', res: res(200, { date: DATE_T0, 'last-modified': T0_MINUS_1D }), d: resDirectives({ maxAge: 5 }), expected: undefined },
    { name: 'Expires present, even past: MUST NOT use heuristics', res: res(200, { date: DATE_T0, expires: T0_MINUS_1H, 'last-modified': T0_MINUS_1D }), d: resDirectives(), expected: undefined },
    { name: 'invalid freshness directives: no heuristics', res: res(200, { date: DATE_T0, 'last-modified': T0_MINUS_1D }), d: resDirectives({ invalid: true }), expected: undefined },
    { name: 's-maxage does not block heuristics in a private cache', res: res(200, { date: DATE_T0, 'last-modified': T0_MINUS_1D }), d: resDirectives({ sMaxAge: 5 }), expected: 8640 },
    { name: 'shared: s-maxage is explicit freshness, so no heuristics (§4.2.2)', res: res(200, { date: DATE_T0, 'last-modified': T0_MINUS_1D }), d: resDirectives({ sMaxAge: 5 }), shared: true, expected: undefined },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(heuristicLifetime(row.res, row.d, row.responseTime ?? T0, row.shared ?? false), row.expected)
    })
  }
})

describe('policy/freshness correctedInitialAge', () => {
  const rows: ReadonlyArray<{ name: string; res: CacheResponse; requestTime: number; responseTime: number; expected: number }> = [
    { name: 'fresh from the origin, no delay', res: res(200, { date: DATE_T0 }), requestTime: T0, responseTime: T0, expected: 0 },
    { name: 'Age plus response delay (§4.2.3)', res: res(200, { date: DATE_T0, age: '100' }), requestTime: T0 - 2000, responseTime: T0, expected: 102 },
    { name: 'apparent age wins when larger (§4.2.3)', res: res(200, { date: T0_MINUS_5M, age: '10' }), requestTime: T0 - 1000, responseTime: T0, expected: 300 },
    { name: 'Date in the future: apparent age is 0', res: res(200, { date: T0_PLUS_1M }), requestTime: T0, responseTime: T0, expected: 0 },
    { name: 'delay alone counts as age', res: res(200, { date: DATE_T0 }), requestTime: T0 - 1500, responseTime: T0, expected: 1.5 },
    { name: 'Date missing: Age plus delay', res: res(200, { age: '30' }), requestTime: T0 - 500, responseTime: T0, expected: 30.5 },
    { name: 'invalid Age "abc" is 0', res: res(200, { date: DATE_T0, age: 'abc' }), requestTime: T0 - 1000, responseTime: T0, expected: 1 },
    { name: 'negative Age is 0 (§5.1 delta-seconds)', res: res(200, { date: DATE_T0, age: '-5' }), requestTime: T0, responseTime: T0, expected: 0 },
    { name: 'fractional Age is 0', res: res(200, { date: DATE_T0, age: '1.5' }), requestTime: T0, responseTime: T0, expected: 0 },
    // RFC 9111 §5.1: "a cache encountering a message with a list-based Age field value SHOULD use the
    // first member of the field value, discarding subsequent ones", and "If the field value (after
    // discarding additional members, as per above) is invalid (e.g., it contains something other than a
    // non-negative integer), a cache SHOULD ignore the field." (cache-tests age-parse-*)
    { name: 'Age list on one line: the first member (§5.1; age-parse-suffix)', res: res(200, { date: DATE_T0, age: '7200, 0' }), requestTime: T0, responseTime: T0, expected: 7200 },
    { name: 'Age on two lines: the first line (§5.1; age-parse-suffix-twoline)', res: res(200, { date: DATE_T0, age: ['7200', '0'] }), requestTime: T0, responseTime: T0, expected: 7200 },
    { name: 'Age "0, 7200": the first member (§5.1; age-parse-prefix)', res: res(200, { date: DATE_T0, age: '0, 7200' }), requestTime: T0, responseTime: T0, expected: 0 },
    { name: 'Age "0" then "7200" on two lines (§5.1; age-parse-prefix-twoline)', res: res(200, { date: DATE_T0, age: ['0', '7200'] }), requestTime: T0, responseTime: T0, expected: 0 },
    { name: 'Age "3600" twice on two lines (§5.1; age-parse-dup-old)', res: res(200, { date: DATE_T0, age: ['3600', '3600'] }), requestTime: T0, responseTime: T0, expected: 3600 },
    { name: 'empty list members are skipped (RFC 9110 §5.6.1)', res: res(200, { date: DATE_T0, age: ', 7200' }), requestTime: T0, responseTime: T0, expected: 7200 },
    { name: 'invalid first member: the field is ignored, not the next member used (§5.1)', res: res(200, { date: DATE_T0, age: 'abc, 7200' }), requestTime: T0, responseTime: T0, expected: 0 },
    { name: 'Age with a parameter is not delta-seconds: ignored (§5.1; age-parse-parameter)', res: res(200, { date: DATE_T0, age: '7200;foo=bar' }), requestTime: T0, responseTime: T0, expected: 0 },
    { name: 'Age "7200.0" is not delta-seconds: ignored (§5.1; age-parse-float)', res: res(200, { date: DATE_T0, age: '7200.0' }), requestTime: T0, responseTime: T0, expected: 0 },
    { name: 'Age 2147483647 is kept (age-parse-large-minus-one)', res: res(200, { date: DATE_T0, age: '2147483647' }), requestTime: T0, responseTime: T0, expected: 2147483647 },
    { name: 'huge Age clamps (§1.2.2)', res: res(200, { date: DATE_T0, age: '99999999999' }), requestTime: T0, responseTime: T0, expected: 2147483648 },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(correctedInitialAge(row.res, row.requestTime, row.responseTime), row.expected)
    })
  }
})

describe('policy/freshness decideLifetime', () => {
  const after = (seconds: number): Expiration => ({ kind: 'after', seconds })
  const never: Expiration = { kind: 'never' }
  const doNotCache: Expiration = { kind: 'do-not-cache' }
  const heuristic = res(200, { date: DATE_T0, 'last-modified': T0_MINUS_1D })
  const rows: ReadonlyArray<{ name: string; res: CacheResponse; d: ResponseDirectives; cacheControl: boolean; user: Expiration | undefined; expected: Lifetime }> = [
    { name: 'user do-not-cache beats max-age', res: heuristic, d: resDirectives({ maxAge: 60 }), cacheControl: true, user: doNotCache, expected: { kind: 'do-not-cache' } },
    { name: 'user do-not-cache without cacheControl', res: heuristic, d: resDirectives(), cacheControl: false, user: doNotCache, expected: { kind: 'do-not-cache' } },
    { name: 'explicit lifetime beats the user', res: heuristic, d: resDirectives({ maxAge: 60 }), cacheControl: true, user: after(300), expected: { kind: 'store', lifetime: 60 } },
    { name: 'Expires beats the user', res: res(200, { date: DATE_T0, expires: T0_PLUS_1M }), d: resDirectives(), cacheControl: true, user: after(300), expected: { kind: 'store', lifetime: 60 } },
    { name: 'Expires in the past beats the user', res: res(200, { date: DATE_T0, expires: T0_MINUS_1H }), d: resDirectives(), cacheControl: true, user: after(300), expected: { kind: 'store', lifetime: 0 } },
    { name: 'invalid freshness is stale even with a user expiration', res: heuristic, d: resDirectives({ invalid: true }), cacheControl: true, user: after(300), expected: { kind: 'store', lifetime: 0 } },
    { name: 'user expiration beats the heuristic', res: heuristic, d: resDirectives(), cacheControl: true, user: after(300), expected: { kind: 'store', lifetime: 300 } },
    { name: "user 'never' is Infinity", res: heuristic, d: resDirectives(), cacheControl: true, user: never, expected: { kind: 'store', lifetime: Infinity } },
    { name: 'heuristic when nothing else (§4.2.2)', res: heuristic, d: resDirectives(), cacheControl: true, user: undefined, expected: { kind: 'store', lifetime: 8640 } },
    { name: 'nothing at all: 0', res: res(200, { date: DATE_T0 }), d: resDirectives(), cacheControl: true, user: undefined, expected: { kind: 'store', lifetime: 0 } },
    { name: 'cacheControl false: user beats max-age', res: heuristic, d: resDirectives({ maxAge: 60 }), cacheControl: false, user: after(300), expected: { kind: 'store', lifetime: 300 } },
    { name: 'cacheControl false: user 0', res: heuristic, d: resDirectives({ maxAge: 60 }), cacheControl: false, user: after(0), expected: { kind: 'store', lifetime: 0 } },
    { name: "cacheControl false: user 'never'", res: heuristic, d: resDirectives(), cacheControl: false, user: never, expected: { kind: 'store', lifetime: Infinity } },
    { name: 'cacheControl false, no user: never expires', res: heuristic, d: resDirectives({ maxAge: 60 }), cacheControl: false, user: undefined, expected: { kind: 'store', lifetime: Infinity } },
  ]
  for (const row of rows) {
    it(row.name, () => {
      const lifetime = decideLifetime({ res: row.res, directives: row.d, responseTime: T0, cacheControl: row.cacheControl, user: row.user, shared: false })
      assert.deepEqual(lifetime, row.expected)
    })
  }
})
