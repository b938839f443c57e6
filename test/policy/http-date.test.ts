import assert from 'node:assert/strict'
import { formatHttpDate, parseHttpDate } from '../../lib/policy/http-date.js'

// 784111777000 ms is Sun, 06 Nov 1994 08:49:37 GMT, the RFC 9110 §5.6.7 example.
const RFC_EXAMPLE = 784111777000

describe('policy/http-date parseHttpDate', () => {
  const rows: ReadonlyArray<{ name: string; value: string | undefined; now?: number; expected: number | undefined }> = [
    // RFC 9110 §5.6.7: "A recipient that parses a timestamp value in an HTTP field MUST accept all three
    // HTTP-date formats."
    { name: 'IMF-fixdate (RFC 9110 §5.6.7)', value: 'Sun, 06 Nov 1994 08:49:37 GMT', expected: RFC_EXAMPLE },
    { name: 'obsolete RFC 850 form', value: 'Sunday, 06-Nov-94 08:49:37 GMT', expected: RFC_EXAMPLE },
    { name: 'obsolete asctime form', value: 'Sun Nov  6 08:49:37 1994', expected: RFC_EXAMPLE },
    { name: 'asctime with a two-digit day', value: 'Tue Nov 15 08:49:37 1994', expected: RFC_EXAMPLE + 9 * 86400_000 },
    { name: 'asctime with a zero-padded day (date3 allows 2DIGIT)', value: 'Sun Nov 06 08:49:37 1994', expected: RFC_EXAMPLE },
    // RFC 9111 §4.2: "Although all date formats are specified to be case-sensitive, a cache recipient
    // SHOULD match the field value case-insensitively." (cache-tests freshness-expires-wrong-case-*)
    { name: 'names in any case (RFC 9111 §4.2)', value: 'sun, 06 NOV 1994 08:49:37 gmt', expected: RFC_EXAMPLE },
    { name: 'upper-case day name (RFC 9111 §4.2)', value: 'THU, 18 Aug 2050 02:01:18 GMT', expected: 2544400878000 },
    { name: 'mixed-case zone (RFC 9111 §4.2)', value: 'Thu, 18 Aug 2050 02:01:18 gMT', expected: 2544400878000 },
    { name: 'RFC 850 names in any case (RFC 9111 §4.2)', value: 'SUNDAY, 06-nov-94 08:49:37 Gmt', expected: RFC_EXAMPLE },
    // RFC 9110 §5.5: a field value does not include leading or trailing whitespace.
    { name: 'surrounding OWS is not part of the value (RFC 9110 §5.5)', value: ' \tSun, 06 Nov 1994 08:49:37 GMT ', expected: RFC_EXAMPLE },
    { name: 'the epoch', value: 'Thu, 01 Jan 1970 00:00:00 GMT', expected: 0 },
    { name: 'leap day', value: 'Thu, 29 Feb 1996 00:00:00 GMT', expected: 825552000000 },
    { name: 'leap second reads as :59 (RFC 9111 §4.2: the nearest earlier time)', value: 'Sat, 31 Dec 2016 23:59:60 GMT', expected: 1483228799000 },
    { name: 'exactly 2^31 seconds (cache-tests freshness-expires-32bit)', value: 'Tue, 19 Jan 2038 03:14:08 GMT', expected: 2147483648000 },
    { name: 'far future (cache-tests freshness-expires-far-future)', value: 'Sun, 21 Nov 2286 04:46:39 GMT', expected: 10000039599000 },
    // RFC 9110 §5.6.7: "Recipients of a timestamp value in rfc850-date format, which uses a two-digit
    // year, MUST interpret a timestamp that appears to be more than 50 years in the future as
    // representing the most recent year in the past that had the same last two digits."
    { name: 'RFC 850 year 70 without now: 1970', value: 'Thursday, 01-Jan-70 00:00:00 GMT', expected: 0 },
    { name: 'RFC 850 year 70 in 2025: not >50 years ahead, so 2070', value: 'Wednesday, 01-Jan-70 00:00:00 GMT', now: 1735689600000, expected: 3155760000000 },
    { name: 'RFC 850 year 99 in 2025: 2099 is >50 years ahead, so 1999', value: 'Friday, 01-Jan-99 00:00:00 GMT', now: 1735689600000, expected: 915148800000 },
    { name: 'RFC 850 exactly 50 years after now is not more than 50: 2076', value: 'Wednesday, 01-Jan-76 00:00:00 GMT', now: 1767225600000, expected: 3345062400000 },
    { name: 'RFC 850 a day more than 50 years after now: 1976', value: 'Friday, 02-Jan-76 00:00:00 GMT', now: 1767225600000, expected: 189388800000 },
    { name: 'RFC 850 29 Feb 00 in 2026: 2000, a leap year', value: 'Tuesday, 29-Feb-00 00:00:00 GMT', now: 1767225600000, expected: 951782400000 },
    { name: 'RFC 850 year 50 in 1994: 2050 is >50 years ahead, so 1950', value: 'Friday, 18-Aug-50 02:01:18 GMT', now: RFC_EXAMPLE, expected: -611359122000 },
    { name: 'RFC 850 year 50 in 2026: 2050 (cache-tests freshness-expires-rfc850)', value: 'Thursday, 18-Aug-50 02:01:18 GMT', now: 1767225600000, expected: 2544400878000 },
    { name: 'undefined', value: undefined, expected: undefined },
    { name: 'empty', value: '', expected: undefined },
    { name: '"0" (RFC 9111 §5.3 invalid Expires)', value: '0', expected: undefined },
    { name: '"1", which some engines Date.parse', value: '1', expected: undefined },
    { name: '"-1"', value: '-1', expected: undefined },
    { name: 'ISO 8601 is not an HTTP-date', value: '1994-11-06T08:49:37Z', expected: undefined },
    // Anything else is not an HTTP-date, so invalid: RFC 9111 §5.3 reads such an Expires as already
    // expired. The cache-tests ids are from expires-parse.mjs (all required).
    { name: 'UTC instead of GMT (RFC 9111 §4.2; freshness-expires-invalid-utc)', value: 'Thu, 18 Aug 2050 02:01:18 UTC', expected: undefined },
    { name: 'another zone (freshness-expires-invalid-aest)', value: 'Thu, 18 Aug 2050 02:01:18 AEST', expected: undefined },
    { name: 'two-digit year in IMF-fixdate (freshness-expires-invalid-2-digit-year)', value: 'Thu, 18 Aug 50 02:01:18 GMT', expected: undefined },
    { name: 'missing comma (freshness-expires-invalid-no-comma)', value: 'Thu 18 Aug 2050 02:01:18 GMT', expected: undefined },
    { name: 'doubled spaces (freshness-expires-invalid-multiple-spaces)', value: 'Thu, 18  Aug  2050 02:01:18 GMT', expected: undefined },
    { name: 'dashes with a four-digit year (freshness-expires-invalid-date-dashes)', value: 'Thu, 18-Aug-2050 02:01:18 GMT', expected: undefined },
    { name: 'periods in the time (freshness-expires-invalid-time-periods)', value: 'Thu, 18 Aug 2050 02.01.18 GMT', expected: undefined },
    { name: 'one-digit hour (freshness-expires-invalid-1-digit-hour)', value: 'Thu, 18 Aug 2050 2:01:18 GMT', expected: undefined },
    { name: 'one-digit day in IMF-fixdate (day = 2DIGIT)', value: 'Sun, 6 Nov 1994 08:49:37 GMT', expected: undefined },
    { name: 'a tab where SP is required', value: 'Sun,\t06 Nov 1994 08:49:37 GMT', expected: undefined },
    { name: 'a space before the comma', value: 'Sun , 06 Nov 1994 08:49:37 GMT', expected: undefined },
    { name: 'full day name in IMF-fixdate', value: 'Sunday, 06 Nov 1994 08:49:37 GMT', expected: undefined },
    { name: 'short day name in RFC 850 form', value: 'Sun, 06-Nov-94 08:49:37 GMT', expected: undefined },
    { name: 'RFC 850 form without GMT', value: 'Sunday, 06-Nov-94 08:49:37', expected: undefined },
    { name: 'asctime with one space before a one-digit day', value: 'Sun Nov 6 08:49:37 1994', expected: undefined },
    { name: 'asctime with a zone', value: 'Sun Nov  6 08:49:37 1994 GMT', expected: undefined },
    { name: 'asctime with a two-digit year', value: 'Sun Nov  6 08:49:37 94', expected: undefined },
    { name: 'missing zone', value: 'Sun, 06 Nov 1994 08:49:37', expected: undefined },
    { name: 'numeric offset', value: 'Sun, 06 Nov 1994 08:49:37 +0100', expected: undefined },
    { name: 'five-digit year', value: 'Sun, 06 Nov 19940 08:49:37 GMT', expected: undefined },
    { name: 'non-ASCII digits', value: 'Sun, \u0660\u0666 Nov 1994 08:49:37 GMT', expected: undefined },
    { name: 'day 32', value: 'Sun, 32 Nov 1994 08:49:37 GMT', expected: undefined },
    { name: 'day 00', value: 'Sun, 00 Nov 1994 08:49:37 GMT', expected: undefined },
    { name: '31 November', value: 'Thu, 31 Nov 1994 08:49:37 GMT', expected: undefined },
    { name: '29 February in a common year', value: 'Wed, 29 Feb 1995 00:00:00 GMT', expected: undefined },
    { name: 'hour 24', value: 'Sun, 06 Nov 1994 24:00:00 GMT', expected: undefined },
    { name: 'minute 60', value: 'Sun, 06 Nov 1994 08:60:37 GMT', expected: undefined },
    { name: 'second 61', value: 'Sun, 06 Nov 1994 08:49:61 GMT', expected: undefined },
    { name: 'unknown month', value: 'Sun, 06 Foo 1994 08:49:37 GMT', expected: undefined },
    { name: 'unknown day name', value: 'Xyz, 06 Nov 1994 08:49:37 GMT', expected: undefined },
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
