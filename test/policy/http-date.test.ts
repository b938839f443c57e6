import assert from 'node:assert/strict'
import { formatHttpDate, parseHttpDate } from '../../lib/policy/http-date.js'

// 784111777000 ms is Sun, 06 Nov 1994 08:49:37 GMT, the RFC 9110 §5.6.7 example.
const RFC_EXAMPLE = 784111777000

describe('policy/http-date parseHttpDate', () => {
  const rows: ReadonlyArray<{ name: string; value: string | undefined; now?: number; expected: number | undefined }> = [
    { name: 'IMF-fixdate (RFC 9110 §5.6.7)', value: 'Sun, 06 Nov 1994 08:49:37 GMT', expected: RFC_EXAMPLE },
    { name: 'obsolete RFC 850 form', value: 'Sunday, 06-Nov-94 08:49:37 GMT', expected: RFC_EXAMPLE },
    { name: 'obsolete asctime form', value: 'Sun Nov  6 08:49:37 1994', expected: RFC_EXAMPLE },
    { name: 'asctime with a two-digit day', value: 'Tue Nov 15 08:49:37 1994', expected: RFC_EXAMPLE + 9 * 86400_000 },
    { name: 'names in any case', value: 'sun, 06 NOV 1994 08:49:37 gmt', expected: RFC_EXAMPLE },
    { name: 'surrounding whitespace', value: '  Sun, 06 Nov 1994 08:49:37 GMT ', expected: RFC_EXAMPLE },
    { name: 'one-digit day (robust parsing)', value: 'Sun, 6 Nov 1994 08:49:37 GMT', expected: RFC_EXAMPLE },
    { name: 'UTC for GMT (robust parsing)', value: 'Sun, 06 Nov 1994 08:49:37 UTC', expected: RFC_EXAMPLE },
    { name: 'the epoch', value: 'Thu, 01 Jan 1970 00:00:00 GMT', expected: 0 },
    { name: 'leap day', value: 'Thu, 29 Feb 1996 00:00:00 GMT', expected: 825552000000 },
    { name: 'leap second reads as :59', value: 'Sat, 31 Dec 2016 23:59:60 GMT', expected: 1483228799000 },
    { name: 'RFC 850 year 70 without now: 1970', value: 'Thursday, 01-Jan-70 00:00:00 GMT', expected: 0 },
    { name: 'RFC 850 year 70 in 2025: not >50 years ahead, so 2070', value: 'Wednesday, 01-Jan-70 00:00:00 GMT', now: 1735689600000, expected: 3155760000000 },
    { name: 'RFC 850 year 99 in 2025: 2099 is >50 years ahead, so 1999', value: 'Friday, 01-Jan-99 00:00:00 GMT', now: 1735689600000, expected: 915148800000 },
    { name: 'undefined', value: undefined, expected: undefined },
    { name: 'empty', value: '', expected: undefined },
    { name: '"0" (RFC 9111 §5.3 invalid Expires)', value: '0', expected: undefined },
    { name: '"1", which some engines Date.parse', value: '1', expected: undefined },
    { name: '"-1"', value: '-1', expected: undefined },
    { name: 'ISO 8601 is not an HTTP-date', value: '1994-11-06T08:49:37Z', expected: undefined },
    { name: 'missing zone', value: 'Sun, 06 Nov 1994 08:49:37', expected: undefined },
    { name: 'numeric offset', value: 'Sun, 06 Nov 1994 08:49:37 +0100', expected: undefined },
    { name: 'day 32', value: 'Sun, 32 Nov 1994 08:49:37 GMT', expected: undefined },
    { name: '31 November', value: 'Thu, 31 Nov 1994 08:49:37 GMT', expected: undefined },
    { name: '29 February in a common year', value: 'Wed, 29 Feb 1995 00:00:00 GMT', expected: undefined },
    { name: 'hour 25', value: 'Sun, 06 Nov 1994 25:49:37 GMT', expected: undefined },
    { name: 'minute 60', value: 'Sun, 06 Nov 1994 08:60:37 GMT', expected: undefined },
    { name: 'unknown month', value: 'Sun, 06 Foo 1994 08:49:37 GMT', expected: undefined },
    { name: 'unknown day name', value: 'Xyz, 06 Nov 1994 08:49:37 GMT', expected: undefined },
    { name: 'two-digit year in IMF-fixdate', value: 'Sun, 06 Nov 94 08:49:37 GMT', expected: undefined },
    { name: 'trailing junk', value: 'Sun, 06 Nov 1994 08:49:37 GMT x', expected: undefined },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(parseHttpDate(row.value, row.now), row.expected)
    })
  }
})

describe('policy/http-date formatHttpDate', () => {
  const rows: ReadonlyArray<{ name: string; ms: number; expected: string }> = [
    { name: 'RFC 9110 §5.6.7 example', ms: RFC_EXAMPLE, expected: 'Sun, 06 Nov 1994 08:49:37 GMT' },
    { name: 'the epoch', ms: 0, expected: 'Thu, 01 Jan 1970 00:00:00 GMT' },
    { name: 'milliseconds are dropped', ms: 1483228799999, expected: 'Sat, 31 Dec 2016 23:59:59 GMT' },
  ]
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(formatHttpDate(row.ms), row.expected)
    })
  }
})
