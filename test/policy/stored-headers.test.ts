import assert from 'node:assert/strict'
import type { HeaderRecord, MutableHeaderRecord } from '../../lib/headers.js'
import type { ResponseDirectives } from '../../lib/policy/directives.js'
import { headersToStore, replayHeaders, withResponseCookies } from '../../lib/policy/stored-headers.js'
import { resDirectives } from '../helpers/directives.js'

/** `fields` as the record the functions build: no prototype. */
function record(fields: MutableHeaderRecord): MutableHeaderRecord {
  return Object.assign(Object.create(null) as MutableHeaderRecord, fields)
}

/** Fields named `name` with `value`, built without an object literal ever holding the name as a key. */
function field(name: string, value: string): MutableHeaderRecord {
  const out = Object.create(null) as MutableHeaderRecord
  out[name] = value
  return out
}

describe('policy/stored-headers headersToStore', () => {
  const rows: ReadonlyArray<{ name: string; headers: HeaderRecord; d?: ResponseDirectives; redact?: ReadonlySet<string>; expected: MutableHeaderRecord }> = [
    { name: 'ordinary fields are kept', headers: { 'content-type': 'text/plain', etag: '"a"' }, expected: { 'content-type': 'text/plain', etag: '"a"' } },
    {
      name: 'hop-by-hop fields dropped (RFC 9110 §7.6.1, RFC 9111 §3.1)',
      headers: { connection: 'close', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', upgrade: 'h2c', te: 'trailers', trailer: 'x', 'proxy-authenticate': 'Basic', 'content-type': 'text/plain' },
      expected: { 'content-type': 'text/plain' },
    },
    { name: 'fields named in Connection dropped (RFC 9110 §7.6.1)', headers: { connection: 'X-Trace, Close', 'x-trace': '1', etag: '"a"' }, expected: { etag: '"a"' } },
    { name: 'Connection on several lines', headers: { connection: ['x-a', 'X-B'], 'x-a': '1', 'x-b': '2', etag: '"a"' }, expected: { etag: '"a"' } },
    { name: 'Age dropped: recomputed on replay (§5.1)', headers: { age: '30', etag: '"a"' }, expected: { etag: '"a"' } },
    // Issue 12: a response with Set-Cookie may be stored (RFC 9111 §7.3); its cookie never is, so a replay
    // never hands it to another user (DESIGN.md "Security defaults"), in either cache type.
    { name: 'Set-Cookie dropped, every line', headers: { 'set-cookie': ['sid=1; HttpOnly', 'theme=dark'], etag: '"a"' }, expected: { etag: '"a"' } },
    { name: 'Set-Cookie2 (RFC 2965, obsoleted by RFC 6265) is kept like any other field (§3.1)', headers: { 'set-cookie2': 'sid=1' }, expected: { 'set-cookie2': 'sid=1' } },
    { name: 'Set-Cookie dropped even when no-cache="set-cookie" is absent and the response is public', headers: { 'set-cookie': 'sid=1' }, d: resDirectives({ public: true }), expected: {} },
    { name: 'qualified no-cache fields dropped (§5.2.2.4)', headers: { 'x-secret': 's', etag: '"a"' }, d: resDirectives({ noCache: ['x-secret'] }), expected: { etag: '"a"' } },
    { name: 'qualified private fields dropped (§5.2.2.7)', headers: { 'x-user': 'u', etag: '"a"' }, d: resDirectives({ private: ['x-user'] }), expected: { etag: '"a"' } },
    { name: 'unqualified no-cache keeps every field', headers: { 'x-secret': 's' }, d: resDirectives({ noCache: true, private: true }), expected: { 'x-secret': 's' } },
    { name: 'redacted names dropped, case-insensitively', headers: { 'x-api-key': 'k', etag: '"a"' }, redact: new Set(['X-Api-Key']), expected: { etag: '"a"' } },
    { name: 'several lines kept as a list', headers: { link: ['<a>', '<b>'] }, expected: { link: ['<a>', '<b>'] } },
    { name: 'undefined values skipped', headers: { etag: undefined, vary: 'Accept' }, expected: { vary: 'Accept' } },
    { name: 'a field named __proto__ is kept as a field', headers: field('__proto__', 'x'), expected: field('__proto__', 'x') },
    { name: 'a field named constructor is kept as a field', headers: field('constructor', 'x'), expected: field('constructor', 'x') },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(headersToStore(row.headers, row.d ?? resDirectives(), row.redact ?? new Set()), record(row.expected))
    })
  }

  it('copies lists, so the stored record does not share arrays with the response', () => {
    const link = ['<a>']
    const stored = headersToStore({ link }, resDirectives(), new Set())
    link.push('<b>')
    assert.deepEqual(stored, record({ link: ['<a>'] }))
  })
})

describe('policy/stored-headers headersToStore: ignored parameters in URL-valued fields', () => {
  const redact: ReadonlySet<string> = new Set(['api_key', 'x-api-key'])
  const rows: ReadonlyArray<{ name: string; headers: HeaderRecord; expected: MutableHeaderRecord }> = [
    { name: 'Location, absolute', headers: { location: 'https://a.test/next?page=2&api_key=S3CR3T' }, expected: { location: 'https://a.test/next?page=2' } },
    { name: 'Location, relative, the only parameter: no ? left', headers: { location: '/login?api_key=S3CR3T' }, expected: { location: '/login' } },
    { name: 'every occurrence removed, other pairs kept in order and as sent', headers: { location: '/x?b=%7e&api_key=1&a=2+3&api_key=4' }, expected: { location: '/x?b=%7e&a=2+3' } },
    { name: 'names match after decoding, case-insensitively', headers: { location: '/x?API%5Fkey=S3CR3T&Api_Key&b=1' }, expected: { location: '/x?b=1' } },
    { name: 'pairs in the fragment too', headers: { location: '/cb?a=1#api_key=S3CR3T&state=2' }, expected: { location: '/cb?a=1#state=2' } },
    { name: 'a fragment left empty loses its #', headers: { location: '/cb#api_key=S3CR3T' }, expected: { location: '/cb' } },
    { name: 'a reference without them is kept byte for byte', headers: { location: '/x?b=1&&c#frag' }, expected: { location: '/x?b=1&&c#frag' } },
    { name: 'a parameter named like an ignored one is kept', headers: { location: '/x?api_key2=1&my_api_key=2' }, expected: { location: '/x?api_key2=1&my_api_key=2' } },
    { name: 'Content-Location', headers: { 'content-location': '/doc?api_key=S3CR3T&v=2' }, expected: { 'content-location': '/doc?v=2' } },
    {
      name: 'Link: every target, on every line',
      headers: { link: ['<https://a.test/p?page=2&api_key=S3CR3T>; rel="next", </p?api_key=S3CR3T>; rel="first"', '</style.css>; rel=preload'] },
      expected: { link: ['<https://a.test/p?page=2>; rel="next", </p>; rel="first"', '</style.css>; rel=preload'] },
    },
    { name: 'Refresh', headers: { refresh: '0; url=https://a.test/x?api_key=S3CR3T&b=1' }, expected: { refresh: '0; url=https://a.test/x?b=1' } },
    { name: 'ignored header names count as parameter names too', headers: { location: '/x?x-api-key=S3CR3T' }, expected: { location: '/x' } },
    { name: 'other fields are not URL-valued: kept as sent', headers: { 'x-echo': '/x?api_key=S3CR3T' }, expected: { 'x-echo': '/x?api_key=S3CR3T' } },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(headersToStore(row.headers, resDirectives(), redact), record(row.expected))
    })
  }

  it('nothing is rewritten without ignored parameters', () => {
    const headers = { location: '/x?api_key=1', link: '</p?api_key=1>; rel=next' }
    assert.deepEqual(headersToStore(headers, resDirectives(), new Set()), record(headers))
  })
})

describe('policy/stored-headers replayHeaders', () => {
  const rows: ReadonlyArray<{ name: string; stored: HeaderRecord; age: number; expected: MutableHeaderRecord }> = [
    { name: 'age 0 (§5.1)', stored: { etag: '"a"' }, age: 0, expected: { etag: '"a"', age: '0' } },
    { name: 'fraction floored', stored: {}, age: 12.9, expected: { age: '12' } },
    { name: 'negative reads as 0', stored: {}, age: -3, expected: { age: '0' } },
    { name: 'NaN reads as 0', stored: {}, age: NaN, expected: { age: '0' } },
    { name: 'capped at 2147483648 (§1.2.2)', stored: {}, age: 3e10, expected: { age: '2147483648' } },
    { name: 'Infinity capped', stored: {}, age: Infinity, expected: { age: '2147483648' } },
    { name: 'a stored age is replaced', stored: { age: '5', 'content-type': 'text/plain' }, age: 10, expected: { age: '10', 'content-type': 'text/plain' } },
    { name: 'lists kept', stored: { link: ['<a>', '<b>'] }, age: 1, expected: { link: ['<a>', '<b>'], age: '1' } },
    { name: 'a field named __proto__ replayed as a field', stored: field('__proto__', 'x'), age: 1, expected: Object.assign(field('__proto__', 'x'), { age: '1' }) },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(replayHeaders(row.stored, row.age), record(row.expected))
    })
  }

  it('does not modify the stored record', () => {
    const stored = { age: '5', link: ['<a>'] }
    const out = replayHeaders(stored, 9)
    ;(out['link'] as string[]).push('<b>')
    assert.deepEqual(stored, { age: '5', link: ['<a>'] })
  })
})

describe('policy/stored-headers withResponseCookies', () => {
  const rows: ReadonlyArray<{ name: string; stored: HeaderRecord; response: HeaderRecord; expected: HeaderRecord }> = [
    { name: 'no cookie in the response: the stored record itself', stored: { etag: '"a"' }, response: { etag: '"a"' }, expected: { etag: '"a"' } },
    { name: 'the validation response\'s Set-Cookie goes to its caller', stored: { etag: '"a"' }, response: { 'set-cookie': ['sid=2', 'x=1'] }, expected: { etag: '"a"', 'set-cookie': ['sid=2', 'x=1'] } },
    { name: 'no other field of the response is added', stored: { etag: '"a"' }, response: { 'set-cookie': 'sid=2', 'x-other': '1' }, expected: { etag: '"a"', 'set-cookie': 'sid=2' } },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual({ ...withResponseCookies(row.stored, row.response) }, row.expected)
    })
  }

  it('never changes the stored record', () => {
    const stored = { etag: '"a"' }
    withResponseCookies(stored, { 'set-cookie': 'sid=2' })
    assert.deepEqual(stored, { etag: '"a"' })
  })
})
