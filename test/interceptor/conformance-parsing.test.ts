/**
 * Issue #12: how the cache reads `Age` (RFC 9111 §5.1), `Expires` (§5.3 with RFC 9110 §5.6.7) and
 * `Cache-Control` (§5.2), end to end. Each row is one of the public HTTP caching tests behind
 * cache-tests.fyi, named by its id (`kind` says whether that suite requires it, counts it as optimal, or
 * only records the answer): the origin answers with the row's header lines, a Date from the test's
 * clock and an ETag; the response is stored, the clock moves on two seconds, and the same request is
 * either served from the cache (`fresh`) or revalidated with the origin (`stale`). Rows run in both
 * `type` modes on both stores.
 */
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import type { CacheStore } from '../../lib/index.js'
import { cachedAgent, eventually, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { storedIds } from '../helpers/faults.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'
import type { Dispatcher } from '../helpers/undici.js'

interface Row {
  /** The cache-tests id, or a name of our own for a row that suite has no id for. */
  readonly id: string
  readonly kind: 'required' | 'optimal' | 'check' | 'ours'
  /** Response header lines, in order; a name given twice is sent on two lines. */
  readonly lines: ReadonlyArray<readonly [string, string]>
  readonly expected: 'fresh' | 'stale'
  /** The RFC clause the expectation follows. */
  readonly rfc: string
}

const maxAge3600 = ['cache-control', 'max-age=3600'] as const
const age = (...values: string[]): Row['lines'] => [maxAge3600, ...values.map((v) => ['age', v] as const)]
const expires = (...values: string[]): Row['lines'] => values.map((v) => ['expires', v] as const)
const cc = (...values: string[]): Row['lines'] => values.map((v) => ['cache-control', v] as const)

const rows: readonly Row[] = [
  // RFC 9111 §5.1: "a cache encountering a message with a list-based Age field value SHOULD use the
  // first member of the field value, discarding subsequent ones" and "If the field value (after
  // discarding additional members, as per above) is invalid (e.g., it contains something other than a
  // non-negative integer), a cache SHOULD ignore the field."
  { id: 'age-parse-suffix', kind: 'required', lines: age('7200, 0'), expected: 'stale', rfc: '§5.1 first member' },
  { id: 'age-parse-suffix-twoline', kind: 'required', lines: age('7200', '0'), expected: 'stale', rfc: '§5.1 first member' },
  { id: 'age-parse-prefix', kind: 'required', lines: age('0, 7200'), expected: 'fresh', rfc: '§5.1 first member' },
  { id: 'age-parse-prefix-twoline', kind: 'required', lines: age('0', '7200'), expected: 'fresh', rfc: '§5.1 first member' },
  { id: 'age-parse-dup-0', kind: 'required', lines: age('0, 0'), expected: 'fresh', rfc: '§5.1 first member' },
  { id: 'age-parse-dup-0-twoline', kind: 'required', lines: age('0', '0'), expected: 'fresh', rfc: '§5.1 first member' },
  { id: 'age-parse-dup-old', kind: 'required', lines: [['cache-control', 'max-age=10000'], ['age', '3600'], ['age', '3600']], expected: 'fresh', rfc: '§5.1' },
  { id: 'age-parse-nonnumeric', kind: 'required', lines: age('abc'), expected: 'fresh', rfc: '§5.1 invalid: ignore' },
  { id: 'age-parse-negative', kind: 'required', lines: age('-7200'), expected: 'fresh', rfc: '§5.1 invalid: ignore' },
  { id: 'age-parse-float', kind: 'required', lines: age('7200.0'), expected: 'fresh', rfc: '§5.1 invalid: ignore' },
  { id: 'age-parse-large-minus-one', kind: 'required', lines: age('2147483647'), expected: 'stale', rfc: '§5.1' },
  { id: 'age-parse-larger', kind: 'required', lines: age('2147483649'), expected: 'stale', rfc: '§1.2.2 clamp' },
  { id: 'age-parse-parameter', kind: 'check', lines: age('7200;foo=bar'), expected: 'fresh', rfc: '§5.1 not delta-seconds: ignore' },
  { id: 'age-parse-numeric-parameter', kind: 'check', lines: age('7200;foo=111'), expected: 'fresh', rfc: '§5.1 not delta-seconds: ignore' },

  // RFC 9111 §5.3: "A cache recipient MUST interpret invalid date formats, especially the value "0", as
  // representing a time in the past"; RFC 9110 §5.6.7 defines the three formats; RFC 9111 §4.2: a cache
  // recipient "SHOULD match the field value case-insensitively" and "SHOULD consider a date with a zone
  // abbreviation other than "GMT" to be invalid for calculating expiration".
  { id: 'freshness-expires-32bit', kind: 'optimal', lines: expires('Tue, 19 Jan 2038 14:14:08 GMT'), expected: 'fresh', rfc: 'RFC 9110 §5.6.7' },
  { id: 'freshness-expires-far-future', kind: 'optimal', lines: expires('Sun, 21 Nov 2286 04:46:39 GMT'), expected: 'fresh', rfc: 'RFC 9110 §5.6.7' },
  { id: 'freshness-expires-rfc850', kind: 'optimal', lines: expires('Thursday, 18-Aug-50 02:01:18 GMT'), expected: 'fresh', rfc: 'RFC 9110 §5.6.7 rfc850-date' },
  { id: 'freshness-expires-ansi-c', kind: 'optimal', lines: expires('Thu Aug  8 02:01:18 2050'), expected: 'fresh', rfc: 'RFC 9110 §5.6.7 asctime-date' },
  { id: 'freshness-expires-wrong-case-weekday', kind: 'optimal', lines: expires('THU, 18 Aug 2050 02:01:18 GMT'), expected: 'fresh', rfc: '§4.2 case-insensitive' },
  { id: 'freshness-expires-wrong-case-month', kind: 'optimal', lines: expires('Thu, 18 AUG 2050 02:01:18 GMT'), expected: 'fresh', rfc: '§4.2 case-insensitive' },
  { id: 'freshness-expires-wrong-case-tz', kind: 'optimal', lines: expires('Thu, 18 Aug 2050 02:01:18 gMT'), expected: 'fresh', rfc: '§4.2 case-insensitive' },
  { id: 'freshness-expires-invalid-utc', kind: 'required', lines: expires('Thu, 18 Aug 2050 02:01:18 UTC'), expected: 'stale', rfc: '§4.2 zone other than GMT, §5.3' },
  { id: 'freshness-expires-invalid-aest', kind: 'required', lines: expires('Thu, 18 Aug 2050 02:01:18 AEST'), expected: 'stale', rfc: '§4.2, §5.3' },
  { id: 'freshness-expires-invalid-2-digit-year', kind: 'required', lines: expires('Thu, 18 Aug 50 02:01:18 GMT'), expected: 'stale', rfc: '§5.3' },
  { id: 'freshness-expires-invalid-no-comma', kind: 'required', lines: expires('Thu 18 Aug 2050 02:01:18 GMT'), expected: 'stale', rfc: '§5.3' },
  { id: 'freshness-expires-invalid-multiple-spaces', kind: 'required', lines: expires('Thu, 18  Aug  2050 02:01:18 GMT'), expected: 'stale', rfc: '§5.3' },
  { id: 'freshness-expires-invalid-date-dashes', kind: 'required', lines: expires('Thu, 18-Aug-2050 02:01:18 GMT'), expected: 'stale', rfc: '§5.3' },
  { id: 'freshness-expires-invalid-time-periods', kind: 'required', lines: expires('Thu, 18 Aug 2050 02.01.18 GMT'), expected: 'stale', rfc: '§5.3' },
  { id: 'freshness-expires-invalid-1-digit-hour', kind: 'required', lines: expires('Thu, 18 Aug 2050 2:01:18 GMT'), expected: 'stale', rfc: '§5.3' },
  { id: 'freshness-expires-invalid-multiple-lines', kind: 'required', lines: expires('Thu, 18 Aug 2050 02:01:18 GMT', 'Thu, 18 Aug 2050 02:01:19 GMT'), expected: 'stale', rfc: '§4.2.1' },

  // RFC 9111 §5.2: cache-directive = token [ "=" ( token / quoted-string ) ], no whitespace around "=";
  // recipients "ought to accept both forms" of an argument; §4.2.1: duplicate or invalid freshness
  // information may be treated as stale.
  { id: 'freshness-max-age-quoted', kind: 'check', lines: cc('max-age="3600"'), expected: 'fresh', rfc: '§5.2 both forms' },
  { id: 'freshness-max-age-leading-zero', kind: 'required', lines: cc('max-age=003600'), expected: 'fresh', rfc: '§1.2.2 1*DIGIT' },
  { id: 'freshness-max-age-ignore-quoted', kind: 'required', lines: cc('extension="max-age=3600", max-age=1'), expected: 'stale', rfc: '§5.2 quoted-string' },
  { id: 'freshness-max-age-ignore-quoted-rev', kind: 'required', lines: cc('max-age=1, extension="max-age=3600"'), expected: 'stale', rfc: '§5.2 quoted-string' },
  { id: 'freshness-max-age-single-quoted', kind: 'required', lines: cc("max-age='3600'"), expected: 'stale', rfc: '§4.2.1 invalid' },
  { id: 'freshness-max-age-space-before-equals', kind: 'check', lines: cc('max-age =3600'), expected: 'stale', rfc: '§5.2 grammar, §4.2.1 invalid' },
  { id: 'freshness-max-age-space-after-equals', kind: 'check', lines: cc('max-age= 3600'), expected: 'stale', rfc: '§5.2 grammar, §4.2.1 invalid' },
  { id: 'freshness-max-age-decimal-zero', kind: 'check', lines: cc('max-age=3600.0'), expected: 'stale', rfc: '§1.2.2, §4.2.1 invalid' },
  { id: 'freshness-max-age-decimal-five', kind: 'check', lines: cc('max-age=3600.5'), expected: 'stale', rfc: '§1.2.2, §4.2.1 invalid' },
  { id: 'freshness-max-age-a100', kind: 'check', lines: cc('max-age=a3600'), expected: 'stale', rfc: '§1.2.2, §4.2.1 invalid' },
  { id: 'freshness-max-age-100a', kind: 'check', lines: cc('max-age=3600a'), expected: 'stale', rfc: '§1.2.2, §4.2.1 invalid' },
  { id: 'freshness-max-age-two-fresh-stale-sameline', kind: 'check', lines: cc('max-age=1800, max-age=1'), expected: 'stale', rfc: '§4.2.1 duplicates' },
  { id: 'freshness-max-age-two-stale-fresh-sepline', kind: 'check', lines: cc('max-age=1', 'max-age=1800'), expected: 'stale', rfc: '§4.2.1 duplicates' },
  { id: 'directive-name-case', kind: 'ours', lines: cc('MAX-AGE=3600'), expected: 'fresh', rfc: '§5.2 case-insensitive' },
  { id: 'unknown-directives', kind: 'ours', lines: cc('foo=bar, max-age=3600, x-ext'), expected: 'fresh', rfc: '§5.2.3 ignored' },
  { id: 'ows-before-comma', kind: 'ours', lines: cc('max-age=3600 , public'), expected: 'fresh', rfc: 'RFC 9110 §5.6.1 OWS' },
]

for (const kind of storeKinds) {
  for (const type of ['shared', 'private'] as const) {
    describe(`conformance: parsing Age, Expires and Cache-Control (${kind.name} store, type ${type})`, () => {
      // A fixed start: the Expires rows name fixed dates in 2038, 2050 and 2286.
      const clock = new ManualClock(Date.UTC(2026, 0, 1))
      const byPath = new Map(rows.map((row) => [`/${row.id}`, row]))

      const origin = suiteOrigin(kind, (req, res: ServerResponse) => {
        const row = byPath.get(req.url ?? '')
        // The ETag makes even a response that is stale at once worth storing (RFC 9111 §4.3), so a stale
        // row is one the cache holds but must not serve without going back to the origin.
        const headers: Record<string, string[]> = { date: [new Date(clock.now()).toUTCString()], etag: ['"v"'] }
        for (const [name, value] of row?.lines ?? []) (headers[name] ??= []).push(value)
        for (const [name, values] of Object.entries(headers)) res.setHeader(name, values)
        res.setHeader('content-length', 2)
        res.end('ok')
      })

      let store: CacheStore
      let dispatcher: Dispatcher
      let close: () => Promise<void>
      before(async () => {
        store = await kind.make({ ttl: false })
        ;({ dispatcher, close } = cachedAgent({ store, clock, type }))
      })
      after(() => close())

      for (const row of rows) {
        it(`${row.id} (${row.kind}): ${row.lines.map(([n, v]) => `${n}: ${v}`).join(' | ')} is ${row.expected} (${row.rfc})`, async () => {
          const url = `${origin.url}/${row.id}`
          const stored = (await storedIds(store)).length
          const first = await send(dispatcher, url)
          // The entry is committed after the response ends (never awaited by the caller): wait for it.
          assert.match(first.cacheStatus ?? '', /; stored$/)
          await eventually(async () => (await storedIds(store)).length > stored)
          clock.advanceSeconds(2)
          const again = await send(dispatcher, url)
          assert.equal(again.text, 'ok')
          assert.match(again.cacheStatus ?? '', row.expected === 'fresh' ? /; hit; / : /; fwd=stale; /)
          assert.equal(origin.count(`/${row.id}`), row.expected === 'fresh' ? 1 : 2, `cache-status: ${again.cacheStatus}`)
        })
      }
    })
  }
}
