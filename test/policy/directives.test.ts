import assert from 'node:assert/strict'
import type { HeaderRecord } from '../../lib/headers.js'
import {
  parseRequestDirectives,
  parseResponseDirectives,
  type RequestDirectives,
  type ResponseDirectives,
} from '../../lib/policy/directives.js'
import { reqDirectives, resDirectives } from '../helpers/directives.js'

function cc(...lines: string[]): HeaderRecord {
  return { 'cache-control': lines.length === 1 ? lines[0] : lines }
}

describe('policy/directives parseResponseDirectives', () => {
  const rows: ReadonlyArray<{ name: string; headers: HeaderRecord; expected: Partial<ResponseDirectives> }> = [
    { name: 'no Cache-Control', headers: {}, expected: {} },
    { name: 'Pragma is not a response directive (§5.4)', headers: { pragma: 'no-cache' }, expected: {} },
    { name: 'max-age (§5.2.2.1)', headers: cc('max-age=60'), expected: { maxAge: 60 } },
    { name: 'max-age=0', headers: cc('max-age=0'), expected: { maxAge: 0 } },
    { name: 'directive names are case-insensitive (§5.2)', headers: cc('MAX-AGE=60, No-Store'), expected: { maxAge: 60, noStore: true } },
    { name: 'quoted-string value (§5.2)', headers: cc('max-age="60"'), expected: { maxAge: 60 } },
    { name: 'whitespace and empty members', headers: cc(' , ,max-age=5 ,, public'), expected: { maxAge: 5, public: true } },
    { name: 'max-age=abc is invalid (§4.2.1)', headers: cc('max-age=abc'), expected: { invalid: true } },
    { name: 'max-age=-1 is invalid (§1.2.2 delta-seconds)', headers: cc('max-age=-1'), expected: { invalid: true } },
    { name: 'max-age=1.5 is invalid (§1.2.2)', headers: cc('max-age=1.5'), expected: { invalid: true } },
    { name: 'max-age without a value is invalid', headers: cc('max-age'), expected: { invalid: true } },
    { name: 'max-age="" is invalid', headers: cc('max-age=""'), expected: { invalid: true } },
    { name: 'max-age=+5 is invalid', headers: cc('max-age=+5'), expected: { invalid: true } },
    // RFC 9111 §5.2: cache-directive = token [ "=" ( token / quoted-string ) ]; no whitespace may stand
    // around "=", so such a max-age is invalid freshness information (§4.2.1), not another lifetime.
    { name: 'max-age =3600 is invalid (§5.2; cache-tests freshness-max-age-space-before-equals)', headers: cc('max-age =3600'), expected: { invalid: true } },
    { name: 'max-age= 3600 is invalid (§5.2; freshness-max-age-space-after-equals)', headers: cc('max-age= 3600'), expected: { invalid: true } },
    { name: 'max-age = 3600 is invalid (§5.2)', headers: cc('max-age = 3600'), expected: { invalid: true } },
    { name: 's-maxage =10 is invalid (§5.2)', headers: cc('s-maxage =10'), expected: { invalid: true } },
    { name: 'OWS before the comma is list syntax, not part of the value (RFC 9110 §5.6.1)', headers: cc('max-age=3600 , public\t'), expected: { maxAge: 3600, public: true } },
    { name: "single-quoted max-age is invalid (freshness-max-age-single-quoted)", headers: cc("max-age='3600'"), expected: { invalid: true } },
    { name: 'leading zeros are delta-seconds (§1.2.2; freshness-max-age-leading-zero)', headers: cc('max-age=003600'), expected: { maxAge: 3600 } },
    { name: 'max-age=3600.0 is invalid (§1.2.2; freshness-max-age-decimal-zero)', headers: cc('max-age=3600.0'), expected: { invalid: true } },
    { name: 'max-age=a3600 is invalid (freshness-max-age-a100)', headers: cc('max-age=a3600'), expected: { invalid: true } },
    { name: 'max-age=3600a is invalid (freshness-max-age-100a)', headers: cc('max-age=3600a'), expected: { invalid: true } },
    { name: 'max-age inside a quoted extension value is not max-age (freshness-max-age-ignore-quoted)', headers: cc('extension="max-age=3600", max-age=1'), expected: { maxAge: 1 } },
    { name: 'the same, after the real one (freshness-max-age-ignore-quoted-rev)', headers: cc('max-age=1, extension="max-age=3600"'), expected: { maxAge: 1 } },
    { name: 'malformed no-cache argument reads as unqualified no-cache', headers: cc('no-cache = "x-foo"'), expected: { noCache: true } },
    { name: 'malformed private argument reads as unqualified private', headers: cc('private= "x-foo"'), expected: { private: true } },
    { name: 'malformed stale-while-revalidate is ignored', headers: cc('stale-while-revalidate =30'), expected: {} },
    { name: 'duplicate max-age with the same value (§4.2.1)', headers: cc('max-age=60, max-age=60'), expected: { maxAge: 60 } },
    { name: 'duplicate max-age with different values (§4.2.1)', headers: cc('max-age=60, max-age=120'), expected: { invalid: true } },
    { name: 'conflicting max-age across lines (§4.2.1)', headers: cc('max-age=60', 'max-age=30'), expected: { invalid: true } },
    { name: 'several lines are one list (RFC 9110 §5.3)', headers: cc('no-store', 'max-age=60'), expected: { maxAge: 60, noStore: true } },
    { name: 'max-age=2147483648 is kept (§1.2.2)', headers: cc('max-age=2147483648'), expected: { maxAge: 2147483648 } },
    { name: 'max-age=2147483649 clamps (§1.2.2)', headers: cc('max-age=2147483649'), expected: { maxAge: 2147483648 } },
    { name: 'max-age with 20 digits clamps (§1.2.2)', headers: cc('max-age=99999999999999999999'), expected: { maxAge: 2147483648 } },
    { name: 's-maxage is parsed (§5.2.2.10)', headers: cc('s-maxage=10'), expected: { sMaxAge: 10 } },
    { name: 'duplicate s-maxage with different values (§4.2.1)', headers: cc('s-maxage=10, s-maxage=20'), expected: { invalid: true } },
    { name: 'invalid s-maxage', headers: cc('max-age=5, s-maxage=x'), expected: { invalid: true } },
    { name: 'unqualified no-cache (§5.2.2.4)', headers: cc('no-cache'), expected: { noCache: true } },
    { name: 'qualified no-cache, quoted list, lowercased (§5.2.2.4)', headers: cc('no-cache="Set-Cookie, X-Foo"'), expected: { noCache: ['set-cookie', 'x-foo'] } },
    { name: 'qualified no-cache, token form', headers: cc('no-cache=X-Foo'), expected: { noCache: ['x-foo'] } },
    { name: 'qualified no-cache twice accumulates', headers: cc('no-cache="a", no-cache="b"'), expected: { noCache: ['a', 'b'] } },
    { name: 'unqualified no-cache wins over qualified', headers: cc('no-cache="a", no-cache'), expected: { noCache: true } },
    { name: 'no-cache="" reads as unqualified', headers: cc('no-cache=""'), expected: { noCache: true } },
    { name: 'unqualified private (§5.2.2.7)', headers: cc('private'), expected: { private: true } },
    { name: 'qualified private (§5.2.2.7)', headers: cc('private="X-User, Authorization"'), expected: { private: ['x-user', 'authorization'] } },
    {
      name: 'boolean directives',
      headers: cc('public, must-revalidate, proxy-revalidate, immutable, no-store'),
      expected: { public: true, mustRevalidate: true, proxyRevalidate: true, immutable: true, noStore: true },
    },
    {
      name: 'must-understand with no-store (§5.2.2.3)',
      headers: cc('must-understand, no-store'),
      expected: { mustUnderstand: true, noStore: true },
    },
    { name: 'stale-while-revalidate and stale-if-error (RFC 5861)', headers: cc('stale-while-revalidate=30, stale-if-error=600'), expected: { staleWhileRevalidate: 30, staleIfError: 600 } },
    { name: 'invalid stale-while-revalidate is ignored, not invalid', headers: cc('stale-while-revalidate=soon'), expected: {} },
    { name: 'unknown directives ignored (§5.2.3)', headers: cc('foo=bar, max-age=5, x-ext'), expected: { maxAge: 5 } },
    { name: 'a comma inside a quoted value does not split', headers: cc('x-ext="a, max-age=9", max-age=5'), expected: { maxAge: 5 } },
    { name: 'escaped quote inside a quoted value', headers: cc('x-ext="a\\", max-age=9", max-age=5'), expected: { maxAge: 5 } },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(parseResponseDirectives(row.headers), resDirectives(row.expected))
    })
  }
})

describe('policy/directives parseRequestDirectives', () => {
  const rows: ReadonlyArray<{ name: string; headers: HeaderRecord; expected: Partial<RequestDirectives> }> = [
    { name: 'no Cache-Control', headers: {}, expected: {} },
    { name: 'max-age=0 (§5.2.1.1)', headers: cc('max-age=0'), expected: { maxAge: 0 } },
    { name: 'bare max-stale accepts any staleness (§5.2.1.2)', headers: cc('max-stale'), expected: { maxStale: Infinity } },
    { name: 'max-stale=30 (§5.2.1.2)', headers: cc('max-stale=30'), expected: { maxStale: 30 } },
    { name: 'quoted, upper-case max-stale', headers: cc('MAX-STALE="30"'), expected: { maxStale: 30 } },
    { name: 'invalid max-stale is ignored', headers: cc('max-stale=abc'), expected: {} },
    { name: 'min-fresh (§5.2.1.3)', headers: cc('min-fresh=10'), expected: { minFresh: 10 } },
    { name: 'no-cache (§5.2.1.4)', headers: cc('no-cache'), expected: { noCache: true } },
    { name: 'no-store (§5.2.1.5)', headers: cc('no-store'), expected: { noStore: true } },
    { name: 'only-if-cached (§5.2.1.7)', headers: cc('only-if-cached'), expected: { onlyIfCached: true } },
    { name: 'stale-if-error (RFC 5861 §4)', headers: cc('stale-if-error=60'), expected: { staleIfError: 60 } },
    { name: 'first max-age of two is kept', headers: cc('max-age=10, max-age=20'), expected: { maxAge: 10 } },
    { name: 'max-age=-5 is ignored', headers: cc('max-age=-5'), expected: {} },
    { name: 'max-age clamps (§1.2.2)', headers: cc('max-age=99999999999'), expected: { maxAge: 2147483648 } },
    { name: 'max-age =5 is malformed and ignored (§5.2)', headers: cc('max-age =5'), expected: {} },
    { name: 'max-stale= 5 is malformed and ignored, not read as a bare max-stale (§5.2)', headers: cc('max-stale= 5'), expected: {} },
    { name: 'min-fresh = 5 is malformed and ignored (§5.2)', headers: cc('min-fresh = 5'), expected: {} },
    { name: 'no-cache with a malformed argument is still no-cache', headers: cc('no-cache ="x"'), expected: { noCache: true } },
    { name: 'several lines combined', headers: cc('no-cache', 'max-stale=5'), expected: { noCache: true, maxStale: 5 } },
    { name: 'Pragma: no-cache without Cache-Control (§5.4)', headers: { pragma: 'no-cache' }, expected: { noCache: true } },
    { name: 'Pragma is case-insensitive and a list', headers: { pragma: 'x-foo, No-Cache' }, expected: { noCache: true } },
    { name: 'Pragma ignored when Cache-Control is present (§5.4)', headers: { pragma: 'no-cache', 'cache-control': 'max-age=60' }, expected: { maxAge: 60 } },
    { name: 'Pragma ignored even beside an unknown Cache-Control directive (§5.4)', headers: { pragma: 'no-cache', 'cache-control': 'foo' }, expected: {} },
    { name: 'other Pragma values are ignored', headers: { pragma: 'x-no-cache' }, expected: {} },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.deepEqual(parseRequestDirectives(row.headers), reqDirectives(row.expected))
    })
  }
})
