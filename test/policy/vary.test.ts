import assert from 'node:assert/strict'
import type { VaryValues } from '../../lib/entry.js'
import type { HeaderRecord } from '../../lib/headers.js'
import { parseVary, sameVaryValues, varyValues, type VarySpec } from '../../lib/policy/vary.js'

describe('policy/vary parseVary', () => {
  const rows: ReadonlyArray<{ name: string; headers: HeaderRecord; expected: VarySpec }> = [
    { name: 'no Vary', headers: {}, expected: { kind: 'none' } },
    { name: 'empty Vary', headers: { vary: '' }, expected: { kind: 'none' } },
    { name: 'only commas and spaces', headers: { vary: ' , ,' }, expected: { kind: 'none' } },
    { name: 'one field, lowercased', headers: { vary: 'Accept-Encoding' }, expected: { kind: 'fields', names: ['accept-encoding'] } },
    { name: 'sorted and de-duplicated', headers: { vary: 'User-Agent, accept, ACCEPT,  accept-language' }, expected: { kind: 'fields', names: ['accept', 'accept-language', 'user-agent'] } },
    { name: 'several lines', headers: { vary: ['accept', 'origin'] }, expected: { kind: 'fields', names: ['accept', 'origin'] } },
    { name: '* alone', headers: { vary: '*' }, expected: { kind: 'any' } },
    { name: '* among names', headers: { vary: 'accept, *' }, expected: { kind: 'any' } },
    { name: '* on a later line', headers: { vary: ['accept', '*'] }, expected: { kind: 'any' } },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(parseVary(row.headers), row.expected)
    })
  }
})

describe('policy/vary varyValues', () => {
  const rows: ReadonlyArray<{ name: string; names: readonly string[]; req: HeaderRecord; expected: VaryValues }> = [
    { name: 'absent field is null', names: ['accept'], req: {}, expected: { accept: null } },
    { name: 'value trimmed', names: ['accept'], req: { accept: '  text/html  ' }, expected: { accept: 'text/html' } },
    { name: 'spaces around commas collapse', names: ['accept'], req: { accept: 'a ,  b,c\t, d' }, expected: { accept: 'a, b, c, d' } },
    { name: 'lines joined with ", "', names: ['accept'], req: { accept: ['a ', ' b'] }, expected: { accept: 'a, b' } },
    { name: 'inner whitespace away from commas kept', names: ['user-agent'], req: { 'user-agent': 'Mozilla/5.0  (X11)' }, expected: { 'user-agent': 'Mozilla/5.0  (X11)' } },
    { name: 'case of ordinary values kept', names: ['x-tenant'], req: { 'x-tenant': 'Acme' }, expected: { 'x-tenant': 'Acme' } },
    { name: 'accept-encoding lowercased', names: ['accept-encoding'], req: { 'accept-encoding': 'GZIP, Br;Q=0.5' }, expected: { 'accept-encoding': 'gzip, br;q=0.5' } },
    { name: 'accept-language lowercased', names: ['accept-language'], req: { 'accept-language': 'en-US,fr' }, expected: { 'accept-language': 'en-us, fr' } },
    { name: 'commas inside quoted strings untouched', names: ['x-q'], req: { 'x-q': 'a;p="x ,  y" ,b' }, expected: { 'x-q': 'a;p="x ,  y", b' } },
    { name: 'escaped quote inside a quoted string', names: ['x-q'], req: { 'x-q': 'a;p="x\\" , y" , b' }, expected: { 'x-q': 'a;p="x\\" , y", b' } },
    { name: 'several names', names: ['accept', 'origin'], req: { accept: 'a', cookie: 'c' }, expected: { accept: 'a', origin: null } },
    { name: 'empty value is not absent', names: ['accept'], req: { accept: '' }, expected: { accept: '' } },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(varyValues(row.names, row.req), row.expected)
    })
  }

  it('a field named __proto__ becomes an own property', () => {
    const values = varyValues(['__proto__'], JSON.parse('{"__proto__": "x"}') as HeaderRecord)
    assert.equal(Object.getPrototypeOf(values), Object.prototype)
    assert.deepEqual(Object.entries(values), [['__proto__', 'x']])
  })
})

describe('policy/vary sameVaryValues', () => {
  const rows: ReadonlyArray<{ name: string; storedReq: HeaderRecord; names: readonly string[]; req: HeaderRecord; expected: boolean }> = [
    { name: 'no names always match', storedReq: { accept: 'a' }, names: [], req: { accept: 'b' }, expected: true },
    { name: 'same value', storedReq: { accept: 'text/html' }, names: ['accept'], req: { accept: 'text/html' }, expected: true },
    { name: 'different value', storedReq: { accept: 'text/html' }, names: ['accept'], req: { accept: 'application/json' }, expected: false },
    { name: 'absent in both', storedReq: {}, names: ['origin'], req: {}, expected: true },
    { name: 'absent in stored only', storedReq: {}, names: ['origin'], req: { origin: 'https://a' }, expected: false },
    { name: 'absent in request only', storedReq: { origin: 'https://a' }, names: ['origin'], req: {}, expected: false },
    { name: 'empty is not absent', storedReq: { origin: '' }, names: ['origin'], req: {}, expected: false },
    { name: 'whitespace around commas normalised', storedReq: { 'accept-language': 'en,  fr' }, names: ['accept-language'], req: { 'accept-language': 'en, fr' }, expected: true },
    { name: 'one line vs two lines', storedReq: { accept: 'a, b' }, names: ['accept'], req: { accept: ['a', 'b'] }, expected: true },
    { name: 'order matters', storedReq: { accept: 'a, b' }, names: ['accept'], req: { accept: 'b, a' }, expected: false },
    { name: 'accept-encoding case-insensitive', storedReq: { 'accept-encoding': 'gzip' }, names: ['accept-encoding'], req: { 'accept-encoding': 'GZip' }, expected: true },
    { name: 'other values case-sensitive', storedReq: { 'x-tenant': 'acme' }, names: ['x-tenant'], req: { 'x-tenant': 'ACME' }, expected: false },
    { name: 'all of several fields must match', storedReq: { accept: 'a', origin: 'o' }, names: ['accept', 'origin'], req: { accept: 'a', origin: 'p' }, expected: false },
    { name: 'several fields matching', storedReq: { accept: 'a', origin: 'o' }, names: ['accept', 'origin'], req: { accept: 'a', origin: 'o', cookie: 'x' }, expected: true },
  ]
  for (const row of rows) {
    it(row.name, () => {
      const stored = varyValues(row.names, row.storedReq)
      assert.equal(sameVaryValues(stored, varyValues(row.names, row.req)), row.expected)
    })
  }

  it('a name missing from the stored values does not match', () => {
    assert.equal(sameVaryValues({ accept: null }, varyValues(['accept', 'origin'], {})), false)
  })

  it('no stored values (a response stored without Vary) never matches a Vary record', () => {
    assert.equal(sameVaryValues(undefined, varyValues(['accept'], {})), false)
  })
})
