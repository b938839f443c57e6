import assert from 'node:assert/strict'
import type { HeaderRecord } from '../../lib/headers.js'
import type { CacheRequest, CacheResponse } from '../../lib/http.js'
import type { RequestDirectives, ResponseDirectives } from '../../lib/policy/directives.js'
import { storable, worthStoring, type StorableOptions, type StorableVerdict } from '../../lib/policy/storable.js'
import { reqDirectives, resDirectives } from '../helpers/directives.js'

const DATE = 'Sun, 06 Nov 1994 08:49:37 GMT'

function req(method: string, headers: HeaderRecord = {}): CacheRequest {
  return { method, url: new URL('https://example.com/a'), headers }
}

function res(status: number, headers: HeaderRecord = {}): CacheResponse {
  return { status, statusText: '', headers: { date: DATE, ...headers } }
}

const DEFAULTS: StorableOptions = {
  methods: new Set(['GET', 'HEAD']),
  allowableCodes: new Set([200, 203, 300, 301, 308]),
  cacheControl: true,
  credentialsPartitioned: false,
  // The rows above the shared-cache block describe a private cache (`type: 'private'`).
  shared: false,
}
const SHARED: Partial<StorableOptions> = { shared: true }
/** `allowableCodes` unset: RFC 9111 §3 decides which statuses are stored. */
const RFC: Partial<StorableOptions> = { allowableCodes: undefined }

const OK: StorableVerdict = { storable: true }
const no = (reason: Exclude<StorableVerdict, { storable: true }>['reason']): StorableVerdict => ({ storable: false, reason })

describe('policy/storable storable', () => {
  const rows: ReadonlyArray<{
    name: string
    req?: CacheRequest
    requestDirectives?: RequestDirectives
    res?: CacheResponse
    responseDirectives?: ResponseDirectives
    opts?: Partial<StorableOptions>
    expected: StorableVerdict
  }> = [
    { name: 'plain GET 200', expected: OK },
    { name: 'HEAD responses are never stored (§3 method)', req: req('HEAD'), expected: no('method') },
    { name: 'method not in methods (§3)', req: req('POST'), responseDirectives: resDirectives({ maxAge: 60 }), expected: no('method') },
    { name: 'POST when listed in methods', req: req('POST'), responseDirectives: resDirectives({ maxAge: 60 }), opts: { methods: new Set(['GET', 'POST']) }, expected: OK },
    { name: 'clause order: method before no-store', req: req('HEAD'), responseDirectives: resDirectives({ noStore: true }), expected: no('method') },
    { name: '1xx is not final (§3)', res: res(100), opts: { allowableCodes: new Set([100, 200]) }, expected: no('status') },
    { name: '304 is never stored as an entry', res: res(304), opts: { allowableCodes: new Set([200, 304]) }, expected: no('status') },
    { name: '206 to a request without Range is not stored (§3.3)', res: res(206), opts: { allowableCodes: new Set([200, 206]) }, expected: no('partial-content') },
    { name: '206 without Range, not in allowableCodes, still says partial-content', res: res(206), expected: no('partial-content') },
    { name: 'status not in allowableCodes', res: res(404), expected: no('status') },
    { name: 'response no-store (§5.2.2.5)', responseDirectives: resDirectives({ noStore: true, maxAge: 60 }), expected: no('no-store') },
    { name: 'request no-store (§5.2.1.5)', requestDirectives: reqDirectives({ noStore: true }), expected: no('no-store') },
    { name: 'no-store honoured with cacheControl false', responseDirectives: resDirectives({ noStore: true }), opts: { cacheControl: false }, expected: no('no-store') },
    { name: 'must-understand: an understood status ignores the no-store beside it (§5.2.2.3)', responseDirectives: resDirectives({ mustUnderstand: true, noStore: true, maxAge: 60 }), expected: OK },
    { name: 'must-understand: a status whose rules we do not know is not stored (§5.2.2.3)', res: res(299), responseDirectives: resDirectives({ mustUnderstand: true, maxAge: 60 }), opts: { allowableCodes: new Set([200, 299]) }, expected: no('must-understand') },
    { name: 'must-understand does not override a request no-store (§5.2.1.5)', requestDirectives: reqDirectives({ noStore: true }), responseDirectives: resDirectives({ mustUnderstand: true, noStore: true, maxAge: 60 }), expected: no('no-store') },
    { name: 'private is storable in a private cache (§5.2.2.7)', responseDirectives: resDirectives({ private: true }), expected: OK },
    { name: 'qualified private is storable', responseDirectives: resDirectives({ private: ['x-user'] }), expected: OK },
    { name: 's-maxage=0 is irrelevant to a private cache', responseDirectives: resDirectives({ sMaxAge: 0 }), expected: OK },
    { name: 'Authorization (§3.5, stricter: always)', req: req('GET', { authorization: 'Bearer t' }), expected: no('authorization') },
    { name: 'Authorization even with public', req: req('GET', { authorization: 'Bearer t' }), responseDirectives: resDirectives({ public: true }), expected: no('authorization') },
    { name: 'Cookie (stricter default)', req: req('GET', { cookie: 'sid=1' }), expected: no('cookie') },
    { name: 'Authorization with the credentials partition: stored per credential', req: req('GET', { authorization: 'Bearer t' }), opts: { credentialsPartitioned: true }, expected: OK },
    { name: 'Cookie with the credentials partition: stored per credential', req: req('GET', { cookie: 'sid=1' }), opts: { credentialsPartitioned: true }, expected: OK },
    // §7.3: "the Set-Cookie response header field does not inhibit caching"; the field itself is never
    // stored (stored-headers.ts).
    { name: 'Set-Cookie does not inhibit storing (§7.3)', res: res(200, { 'set-cookie': 'sid=1' }), responseDirectives: resDirectives({ maxAge: 60 }), expected: OK },
    { name: 'Set-Cookie with the credentials partition', req: req('GET', { cookie: 'sid=1' }), res: res(200, { 'set-cookie': 'sid=2' }), opts: { credentialsPartitioned: true }, expected: OK },
    { name: 'Vary: * (§4.1)', res: res(200, { vary: '*' }), expected: no('vary-star') },
    { name: 'Vary list containing * (§4.1)', res: res(200, { vary: 'Accept, *' }), expected: no('vary-star') },
    { name: 'Vary: * on a second line', res: res(200, { vary: ['Accept', '*'] }), expected: no('vary-star') },
    { name: 'ordinary Vary is storable', res: res(200, { vary: 'Accept-Encoding' }), expected: OK },
    { name: '404 added by the user is heuristically cacheable', res: res(404), opts: { allowableCodes: new Set([200, 404]) }, expected: OK },
    { name: '500 added by the user needs explicit freshness (§3)', res: res(500), opts: { allowableCodes: new Set([200, 500]) }, expected: no('no-lifetime') },
    { name: '500 with max-age', res: res(500), responseDirectives: resDirectives({ maxAge: 10 }), opts: { allowableCodes: new Set([500]) }, expected: OK },
    { name: '500 with Expires', res: res(500, { expires: DATE }), opts: { allowableCodes: new Set([500]) }, expected: OK },
    { name: '500 with public', res: res(500), responseDirectives: resDirectives({ public: true }), opts: { allowableCodes: new Set([500]) }, expected: OK },
    { name: '500 with private (a private cache may, §3)', res: res(500), responseDirectives: resDirectives({ private: true }), opts: { allowableCodes: new Set([500]) }, expected: OK },
    { name: '500 with s-maxage only: not a signal for a private cache', res: res(500), responseDirectives: resDirectives({ sMaxAge: 10 }), opts: { allowableCodes: new Set([500]) }, expected: no('no-lifetime') },
    { name: '500 with cacheControl false: user lifetime suffices', res: res(500), opts: { allowableCodes: new Set([500]), cacheControl: false }, expected: OK },
    // A shared cache (type: 'shared', the default)
    { name: 'shared: private is not stored (§3, §5.2.2.7)', responseDirectives: resDirectives({ private: true, maxAge: 60 }), opts: SHARED, expected: no('private') },
    { name: 'shared: qualified private is stored without the named fields (§5.2.2.7)', responseDirectives: resDirectives({ private: ['x-user'], maxAge: 60 }), opts: SHARED, expected: OK },
    { name: "shared: private inside a credentials partition is stored (one user's entries)", req: req('GET', { cookie: 'sid=1' }), responseDirectives: resDirectives({ private: true, maxAge: 60 }), opts: { ...SHARED, credentialsPartitioned: true }, expected: OK },
    { name: 'shared: private without credentials on the request is not stored, even with the partition option', responseDirectives: resDirectives({ private: true, maxAge: 60 }), opts: { ...SHARED, credentialsPartitioned: true }, expected: no('private') },
    { name: 'shared: Authorization without the partition is never stored, even public (§3.5, stricter)', req: req('GET', { authorization: 'Bearer t' }), responseDirectives: resDirectives({ public: true, maxAge: 60 }), opts: SHARED, expected: no('authorization') },
    { name: "shared: Authorization inside the partition is stored: only that credential reads it back (§3.5's concern)", req: req('GET', { authorization: 'Bearer t' }), responseDirectives: resDirectives({ maxAge: 60 }), opts: { ...SHARED, credentialsPartitioned: true }, expected: OK },
    { name: 'shared: 500 with s-maxage only is a signal (§3)', res: res(500), responseDirectives: resDirectives({ sMaxAge: 10 }), opts: { ...SHARED, allowableCodes: new Set([500]) }, expected: OK },
    { name: 'shared: 500 with private only is no signal', res: res(500), responseDirectives: resDirectives({ private: ['x'] }), opts: { ...SHARED, allowableCodes: new Set([500]) }, expected: no('no-lifetime') },
    // allowableCodes unset (issue 12): RFC 9111 §3 decides. "the response status code is final" and the
    // response "contains ... an Expires header field, a max-age response directive, a s-maxage response
    // directive [shared], ... a status code that is defined as heuristically cacheable, or a public
    // response directive".
    ...[204, 299, 302, 400, 404, 410, 499, 500, 502, 503, 504, 599].map((status) => ({
      name: `RFC: a ${status} with max-age (§3 explicit freshness)`,
      res: res(status),
      responseDirectives: resDirectives({ maxAge: 60 }),
      opts: RFC,
      expected: OK,
    })),
    ...[204, 404, 405, 410, 414, 501].map((status) => ({ name: `RFC: a bare ${status} is heuristically cacheable (RFC 9110 §15.1)`, res: res(status), opts: RFC, expected: OK })),
    ...[201, 202, 403, 500, 502, 503, 504, 599].map((status) => ({ name: `RFC: a bare ${status} has no cacheability signal`, res: res(status), opts: RFC, expected: no('no-lifetime') })),
    { name: 'RFC: a 599 with Expires (§3)', res: res(599, { expires: DATE }), opts: RFC, expected: OK },
    { name: 'RFC: a 599 with public (§3)', res: res(599), responseDirectives: resDirectives({ public: true }), opts: RFC, expected: OK },
    { name: 'RFC, shared: a 503 with s-maxage only (§3)', res: res(503), responseDirectives: resDirectives({ sMaxAge: 10 }), opts: { ...RFC, ...SHARED }, expected: OK },
    { name: 'RFC, private: a 503 with s-maxage only is no signal (§5.2.2.10)', res: res(503), responseDirectives: resDirectives({ sMaxAge: 10 }), opts: RFC, expected: no('no-lifetime') },
    { name: 'RFC: 1xx is never stored', res: res(103), responseDirectives: resDirectives({ maxAge: 60 }), opts: RFC, expected: no('status') },
    { name: 'RFC: 304 is never stored as an entry', res: res(304), responseDirectives: resDirectives({ maxAge: 60 }), opts: RFC, expected: no('status') },
    { name: 'RFC: must-understand on an unknown status is not stored (§5.2.2.3)', res: res(599), responseDirectives: resDirectives({ mustUnderstand: true, noStore: true, maxAge: 60 }), opts: RFC, expected: no('must-understand') },
    { name: 'RFC: no-store on a 404 with max-age (§5.2.2.5)', res: res(404), responseDirectives: resDirectives({ noStore: true, maxAge: 60 }), opts: RFC, expected: no('no-store') },
    { name: 'RFC with cacheControl false: the success and permanent-redirect statuses', res: res(301), opts: { ...RFC, cacheControl: false }, expected: OK },
    { name: 'RFC with cacheControl false: no response freshness to store a 404 by', res: res(404), responseDirectives: resDirectives({ maxAge: 60 }), opts: { ...RFC, cacheControl: false }, expected: no('status') },
    { name: 'a user list still gates a status the RFC would store', res: res(404), responseDirectives: resDirectives({ maxAge: 60 }), opts: { allowableCodes: new Set([200]) }, expected: no('status') },
  ]
  for (const row of rows) {
    it(row.name, () => {
      const verdict = storable(row.req ?? req('GET'), row.requestDirectives ?? reqDirectives(), row.res ?? res(200), row.responseDirectives ?? resDirectives(), { ...DEFAULTS, ...row.opts })
      assert.deepEqual(verdict, row.expected)
    })
  }
})

describe('policy/storable worthStoring', () => {
  const rows: ReadonlyArray<{ name: string; lifetime: number; headers: HeaderRecord; staleWindow: number; expected: boolean }> = [
    { name: 'fresh, no validator', lifetime: 60, headers: {}, staleWindow: 0, expected: true },
    { name: 'never expires', lifetime: Infinity, headers: {}, staleWindow: 0, expected: true },
    { name: 'stale on arrival, no validator, no stale window: nothing could reuse it', lifetime: 0, headers: {}, staleWindow: 0, expected: false },
    { name: 'negative lifetime, same', lifetime: -5, headers: {}, staleWindow: 0, expected: false },
    { name: 'stale but has ETag (§4.3.1)', lifetime: 0, headers: { etag: '"v1"' }, staleWindow: 0, expected: true },
    { name: 'stale but has Last-Modified (§4.3.1)', lifetime: 0, headers: { 'last-modified': DATE }, staleWindow: 0, expected: true },
    { name: 'stale with a stale window (RFC 5861)', lifetime: 0, headers: {}, staleWindow: 30, expected: true },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(worthStoring(row.lifetime, { status: 200, statusText: '', headers: row.headers }, row.staleWindow), row.expected)
    })
  }
})
