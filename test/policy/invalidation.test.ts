import assert from 'node:assert/strict'
import type { HeaderRecord } from '../../lib/headers.js'
import { SAFE_METHODS, invalidationTargets } from '../../lib/policy/invalidation.js'

const TARGET = 'https://api.example.com/users/1?x=1'

interface Row {
  readonly name: string
  readonly method: string
  readonly status: number
  readonly url?: string
  readonly headers?: HeaderRecord
  readonly expected: readonly string[]
}

const rows: readonly Row[] = [
  { name: 'GET invalidates nothing', method: 'GET', status: 200, expected: [] },
  { name: 'HEAD invalidates nothing', method: 'HEAD', status: 200, expected: [] },
  { name: 'OPTIONS invalidates nothing', method: 'OPTIONS', status: 204, expected: [] },
  { name: 'TRACE invalidates nothing', method: 'TRACE', status: 200, expected: [] },
  { name: 'POST 200 invalidates the target', method: 'POST', status: 200, expected: [TARGET] },
  { name: 'PUT 204 invalidates the target', method: 'PUT', status: 204, expected: [TARGET] },
  { name: 'DELETE 202 invalidates the target', method: 'DELETE', status: 202, expected: [TARGET] },
  { name: 'PATCH 303 invalidates the target', method: 'PATCH', status: 303, expected: [TARGET] },
  { name: 'unknown method counts as unsafe', method: 'PURGE', status: 200, expected: [TARGET] },
  { name: 'lowercase get is not the safe GET (methods are case-sensitive)', method: 'get', status: 200, expected: [TARGET] },
  { name: 'POST 399 still invalidates', method: 'POST', status: 399, expected: [TARGET] },
  { name: 'POST 400 invalidates nothing', method: 'POST', status: 400, expected: [] },
  { name: 'POST 404 invalidates nothing', method: 'POST', status: 404, expected: [] },
  { name: 'POST 500 invalidates nothing', method: 'POST', status: 500, expected: [] },
  { name: 'POST 503 invalidates nothing', method: 'POST', status: 503, expected: [] },
  { name: 'POST 101 invalidates nothing', method: 'POST', status: 101, expected: [] },
  { name: 'fragment is dropped from the target', method: 'POST', status: 200, url: `${TARGET}#top`, expected: [TARGET] },
  {
    name: 'same-origin relative Location',
    method: 'POST',
    status: 201,
    headers: { location: '/users/2' },
    expected: [TARGET, 'https://api.example.com/users/2'],
  },
  {
    name: 'same-origin absolute Content-Location',
    method: 'PUT',
    status: 200,
    headers: { 'content-location': 'https://api.example.com/users/1.json' },
    expected: [TARGET, 'https://api.example.com/users/1.json'],
  },
  {
    name: 'Location relative to the target path',
    method: 'POST',
    status: 201,
    headers: { location: '2' },
    expected: [TARGET, 'https://api.example.com/users/2'],
  },
  {
    name: 'both Location and Content-Location',
    method: 'POST',
    status: 201,
    headers: { location: '/a', 'content-location': '/b' },
    expected: [TARGET, 'https://api.example.com/a', 'https://api.example.com/b'],
  },
  { name: 'duplicates collapse', method: 'POST', status: 201, headers: { location: TARGET, 'content-location': '/users/1?x=1' }, expected: [TARGET] },
  { name: 'cross-origin host is not invalidated', method: 'POST', status: 201, headers: { location: 'https://victim.example.org/x' }, expected: [TARGET] },
  { name: 'cross-origin scheme is not invalidated', method: 'POST', status: 201, headers: { location: 'http://api.example.com/users/2' }, expected: [TARGET] },
  { name: 'cross-origin port is not invalidated', method: 'POST', status: 201, headers: { location: 'https://api.example.com:8443/users/2' }, expected: [TARGET] },
  { name: 'protocol-relative other host is not invalidated', method: 'POST', status: 201, headers: { 'content-location': '//evil.example/x' }, expected: [TARGET] },
  { name: 'default port spelled out is the same origin', method: 'POST', status: 201, headers: { location: 'https://api.example.com:443/z' }, expected: [TARGET, 'https://api.example.com/z'] },
  { name: 'opaque-origin Location is ignored', method: 'POST', status: 201, headers: { location: 'data:text/plain,hi' }, expected: [TARGET] },
  { name: 'unparsable Location is ignored', method: 'POST', status: 201, headers: { location: 'http://[bad' }, expected: [TARGET] },
  { name: 'empty Location is ignored', method: 'POST', status: 201, headers: { location: '  ' }, expected: [TARGET] },
  { name: 'Location on an error status is ignored', method: 'POST', status: 500, headers: { location: '/users/2' }, expected: [] },
  { name: 'Location on a safe method is ignored', method: 'GET', status: 302, headers: { location: '/users/2' }, expected: [] },
]

describe('policy/invalidation invalidationTargets', () => {
  for (const row of rows) {
    it(row.name, () => {
      const req = { method: row.method, url: new URL(row.url ?? TARGET), headers: {} }
      const res = { status: row.status, statusText: '', headers: row.headers ?? {} }
      assert.deepEqual(invalidationTargets(req, res).map((u) => u.href), row.expected)
    })
  }
})

describe('policy/invalidation SAFE_METHODS', () => {
  const rows: ReadonlyArray<{ method: string; safe: boolean }> = [
    { method: 'GET', safe: true },
    { method: 'HEAD', safe: true },
    { method: 'OPTIONS', safe: true },
    { method: 'TRACE', safe: true },
    { method: 'POST', safe: false },
    { method: 'PUT', safe: false },
    { method: 'DELETE', safe: false },
    { method: 'PATCH', safe: false },
  ]
  for (const row of rows) {
    it(`${row.method} is ${row.safe ? 'safe' : 'unsafe'}`, () => {
      assert.equal(SAFE_METHODS.has(row.method), row.safe)
    })
  }
})
