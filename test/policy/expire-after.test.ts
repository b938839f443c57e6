import assert from 'node:assert/strict'
import { InvalidOptionError } from '../../lib/errors.js'
import { compileUrlRules, toExpiration, userExpiration, type Expiration } from '../../lib/policy/expire-after.js'

const after = (seconds: number): Expiration => ({ kind: 'after', seconds })
const never: Expiration = { kind: 'never' }
const doNotCache: Expiration = { kind: 'do-not-cache' }

describe('policy/expire-after toExpiration', () => {
  const valid: ReadonlyArray<{ name: string; value: unknown; expected: Expiration }> = [
    { name: '0: store, always revalidate', value: 0, expected: after(0) },
    { name: '-0 reads as 0', value: -0, expected: after(0) },
    { name: '60 seconds', value: 60, expected: after(60) },
    { name: 'fractional seconds are allowed', value: 1.5, expected: after(1.5) },
    { name: '-1: do not cache', value: -1, expected: doNotCache },
    { name: 'false: do not cache', value: false, expected: doNotCache },
    { name: "'never'", value: 'never', expected: never },
  ]
  for (const row of valid) {
    it(row.name, () => {
      assert.deepEqual(toExpiration(row.value, 'expireAfter'), row.expected)
    })
  }

  const invalid: ReadonlyArray<{ name: string; value: unknown; got: string }> = [
    { name: 'NaN', value: NaN, got: 'number NaN' },
    { name: 'Infinity (spell it never)', value: Infinity, got: 'number Infinity' },
    { name: '-2', value: -2, got: 'number -2' },
    { name: '-0.5', value: -0.5, got: 'number -0.5' },
    { name: 'a numeric string', value: '60', got: 'string "60"' },
    { name: "'NEVER' is case-sensitive", value: 'NEVER', got: 'string "NEVER"' },
    { name: 'true', value: true, got: 'boolean true' },
    { name: 'null', value: null, got: 'null' },
    { name: 'undefined', value: undefined, got: 'undefined undefined' },
    { name: 'an object', value: {}, got: 'object' },
  ]
  for (const row of invalid) {
    it(`rejects ${row.name}`, () => {
      assert.throws(
        () => toExpiration(row.value, 'expireAfter'),
        (error: unknown) => {
          assert.ok(error instanceof InvalidOptionError)
          assert.equal(error.code, 'URC_ERR_INVALID_OPTION')
          assert.equal(error.option, 'expireAfter')
          assert.equal(error.message, `expected option \`expireAfter\` to be a number of seconds ≥ 0, -1, false or "never", got ${row.got}`)
          return true
        },
      )
    })
  }
})

describe('policy/expire-after userExpiration', () => {
  const rules = compileUrlRules(
    {
      'api.example.com/users': 60,
      '*.png': 'never',
      'https://static.example.com/live/*': false,
      'Example.ORG/Path': 30,
      'search.example.com/find?q=*': 10,
      'EXAMPLE.net': 20,
      'literal.example.com/a+b(c)': 5,
    },
    'urlsExpireAfter',
  )
  const fallback = after(1)
  const rows: ReadonlyArray<{ name: string; url: string; expected: Expiration | undefined }> = [
    { name: 'exact host/path', url: 'https://api.example.com/users', expected: after(60) },
    { name: 'implied trailing wildcard', url: 'https://api.example.com/users/1', expected: after(60) },
    { name: 'implied trailing wildcard crosses into a longer segment, as in requests-cache', url: 'https://api.example.com/users-archive', expected: after(60) },
    { name: 'scheme ignored, query included', url: 'http://api.example.com/users?page=2', expected: after(60) },
    { name: 'host case-insensitive (URL side)', url: 'https://API.Example.COM/users/1', expected: after(60) },
    { name: 'host case-insensitive (pattern side)', url: 'https://example.org/Path/x', expected: after(30) },
    { name: 'path case-sensitive', url: 'https://api.example.com/Users/1', expected: fallback },
    { name: 'path case-sensitive (pattern side)', url: 'https://example.org/path', expected: fallback },
    { name: 'pattern without host matches any host and crosses /', url: 'https://cdn.example.com/img/a.png', expected: never },
    { name: 'pattern without host, with a query after', url: 'https://cdn.example.com/a.png?v=2', expected: never },
    { name: 'pattern without slash keeps its own case for paths', url: 'https://cdn.example.com/a.PNG', expected: fallback },
    { name: 'pattern without slash, read as a host, is case-insensitive', url: 'https://example.net/x', expected: after(20) },
    { name: 'scheme in the pattern is dropped', url: 'http://static.example.com/live/feed', expected: doNotCache },
    { name: '? in a pattern is literal', url: 'https://search.example.com/find?q=cats', expected: after(10) },
    { name: '? in a pattern does not match another character', url: 'https://search.example.com/findXq=cats', expected: fallback },
    { name: 'regex characters are literal', url: 'https://literal.example.com/a+b(c)', expected: after(5) },
    { name: 'regex characters do not act as regex', url: 'https://literal.example.com/aab(c)', expected: fallback },
    { name: 'userinfo ignored', url: 'https://user:pw@api.example.com/users', expected: after(60) },
    { name: 'a non-default port is part of the host', url: 'https://api.example.com:8443/users', expected: fallback },
    { name: 'no match: fallback', url: 'https://other.example.com/', expected: fallback },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(userExpiration(new URL(row.url), rules, fallback), row.expected)
    })
  }

  const orderRows: ReadonlyArray<{ name: string; rules: Record<string, unknown>; url: string; fallback: Expiration | undefined; expected: Expiration | undefined }> = [
    { name: 'first match in insertion order wins', rules: { 'example.com/*': 1, 'example.com/a': 2 }, url: 'https://example.com/a', fallback: undefined, expected: after(1) },
    { name: 'a more specific later rule does not win', rules: { 'example.com': 'never', 'example.com/a': false }, url: 'https://example.com/a', fallback: undefined, expected: never },
    { name: "'*' matches everything", rules: { '*': 7 }, url: 'https://anything.test/x?y', fallback: undefined, expected: after(7) },
    { name: 'trailing ** is the same as none', rules: { 'example.com/**': 3 }, url: 'https://example.com/x/y', fallback: undefined, expected: after(3) },
    { name: 'wildcard in the middle', rules: { 'example.com/*/1': 4 }, url: 'https://example.com/stream/1', fallback: undefined, expected: after(4) },
    { name: 'wildcard in the middle, no match', rules: { 'example.com/*/1': 4 }, url: 'https://example.com/stream/2', fallback: undefined, expected: undefined },
    { name: 'no rules, fallback undefined', rules: {}, url: 'https://example.com/', fallback: undefined, expected: undefined },
    { name: 'no rules, fallback used', rules: {}, url: 'https://example.com/', fallback: never, expected: never },
  ]
  for (const row of orderRows) {
    it(row.name, () => {
      assert.deepEqual(userExpiration(new URL(row.url), compileUrlRules(row.rules, 'urlsExpireAfter'), row.fallback), row.expected)
    })
  }
})

describe('policy/expire-after compileUrlRules', () => {
  it('keeps pattern and expiration in insertion order', () => {
    const rules = compileUrlRules({ 'b.example': 1, 'a.example': 'never' }, 'urlsExpireAfter')
    assert.deepEqual(
      rules.map((r) => [r.pattern, r.expiration]),
      [
        ['b.example', after(1)],
        ['a.example', never],
      ],
    )
  })

  it("names the offending pattern: urlsExpireAfter['a.com']", () => {
    assert.throws(
      () => compileUrlRules({ 'ok.com': 1, 'a.com': 'soon' }, 'urlsExpireAfter'),
      (error: unknown) => {
        assert.ok(error instanceof InvalidOptionError)
        assert.equal(error.option, "urlsExpireAfter['a.com']")
        assert.match(error.message, /urlsExpireAfter\['a\.com'\]/)
        return true
      },
    )
  })

  const notObjects: ReadonlyArray<{ name: string; value: unknown }> = [
    { name: 'null', value: null },
    { name: 'an array', value: [60] },
    { name: 'a number', value: 60 },
  ]
  for (const row of notObjects) {
    it(`rejects ${row.name}`, () => {
      assert.throws(() => compileUrlRules(row.value as Record<string, unknown>, 'urlsExpireAfter'), InvalidOptionError)
    })
  }
})
