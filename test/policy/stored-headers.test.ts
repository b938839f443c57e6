import assert from 'node:assert/strict'
import type { HeaderRecord, MutableHeaderRecord } from '../../lib/headers.js'
import type { ResponseDirectives } from '../../lib/policy/directives.js'
import { headersToStore, replayHeaders } from '../../lib/policy/stored-headers.js'
import { resDirectives } from '../helpers/directives.js'

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
    { name: 'qualified no-cache fields dropped (§5.2.2.4)', headers: { 'x-secret': 's', etag: '"a"' }, d: resDirectives({ noCache: ['x-secret'] }), expected: { etag: '"a"' } },
    { name: 'qualified private fields dropped (§5.2.2.7)', headers: { 'x-user': 'u', etag: '"a"' }, d: resDirectives({ private: ['x-user'] }), expected: { etag: '"a"' } },
    { name: 'unqualified no-cache keeps every field', headers: { 'x-secret': 's' }, d: resDirectives({ noCache: true, private: true }), expected: { 'x-secret': 's' } },
    { name: 'redacted names dropped, case-insensitively', headers: { 'x-api-key': 'k', etag: '"a"' }, redact: new Set(['X-Api-Key']), expected: { etag: '"a"' } },
    { name: 'several lines kept as a list', headers: { link: ['<a>', '<b>'] }, expected: { link: ['<a>', '<b>'] } },
    { name: 'undefined values skipped', headers: { etag: undefined, vary: 'Accept' }, expected: { vary: 'Accept' } },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(headersToStore(row.headers, row.d ?? resDirectives(), row.redact ?? new Set()), row.expected)
    })
  }

  it('copies lists, so the stored record does not share arrays with the response', () => {
    const link = ['<a>']
    const stored = headersToStore({ link }, resDirectives(), new Set())
    link.push('<b>')
    assert.deepEqual(stored, { link: ['<a>'] })
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
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(replayHeaders(row.stored, row.age), row.expected)
    })
  }

  it('does not modify the stored record', () => {
    const stored = { age: '5', link: ['<a>'] }
    const out = replayHeaders(stored, 9)
    ;(out['link'] as string[]).push('<b>')
    assert.deepEqual(stored, { age: '5', link: ['<a>'] })
  })
})
