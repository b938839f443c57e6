/**
 * HTTP-date parsing and formatting (RFC 9110 §5.6.7). Exactly the three forms of the RFC's grammar are
 * accepted, single spaces and all. `Date.parse` is never used: it turns junk such as `'0'` or `'1'` into
 * a date in some engines, and accepts `UTC`, doubled spaces and other forms that RFC 9111 §5.3 needs
 * recognised as invalid, so that such an Expires means "already expired".
 *
 * RFC 9110 §5.6.7 also says recipients "are encouraged to be robust in parsing timestamps unless
 * otherwise restricted by the field definition". RFC 9111 is that restriction for a cache: §5.3 reads an
 * invalid Expires as a time in the past, and §4.2 says a cache recipient "SHOULD consider a date with a
 * zone abbreviation other than "GMT" to be invalid for calculating expiration". The one leniency kept
 * is case: §4.2 "Although all date formats are specified to be case-sensitive, a cache recipient SHOULD
 * match the field value case-insensitively."
 */

const MONTHS = 'jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec'
const MONTH_INDEX: Readonly<Record<string, number>> = Object.fromEntries(MONTHS.split('|').map((m, i) => [m, i]))
const DAY_NAME = '(?:mon|tue|wed|thu|fri|sat|sun)'
const DAY_NAME_L = '(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)'
/** time-of-day = hour ":" minute ":" second, each 2DIGIT (ranges checked in build()). */
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'

// Without the `u` flag `\d` is ASCII 0-9 only, as DIGIT is (RFC 5234 B.1). `i`: RFC 9111 §4.2.
// IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT; date1 = day SP month SP year (2DIGIT, 4DIGIT)
// e.g. Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = new RegExp(`^${DAY_NAME}, (\\d{2}) (${MONTHS}) (\\d{4}) ${TIME} GMT$`, 'i')
// rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT; date2 = day "-" month "-" 2DIGIT
// e.g. Sunday, 06-Nov-94 08:49:37 GMT
const RFC850_DATE = new RegExp(`^${DAY_NAME_L}, (\\d{2})-(${MONTHS})-(\\d{2}) ${TIME} GMT$`, 'i')
// asctime-date = day-name SP date3 SP time-of-day SP year; date3 = month SP ( 2DIGIT / ( SP DIGIT ) )
// e.g. Sun Nov  6 08:49:37 1994
const ASCTIME_DATE = new RegExp(`^${DAY_NAME} (${MONTHS}) (\\d{2}| \\d) ${TIME} (\\d{4})$`, 'i')

/** Leading and trailing OWS (SP / HTAB), which RFC 9110 §5.5 excludes from a field value. */
const SURROUNDING_OWS = /^[ \t]+|[ \t]+$/g

/**
 * Epoch milliseconds of an HTTP-date in IMF-fixdate, RFC 850 or asctime form; undefined for anything
 * else, including out-of-range fields (`32 Jan`, `25:00:00`). The day name is not checked against the
 * date: the RFC asks for no such check, and the date fields alone say which instant is meant.
 *
 * `now` (epoch ms; callers pass the time the message was received) resolves RFC 850's two-digit years
 * as RFC 9110 §5.6.7 requires: "Recipients of a timestamp value in rfc850-date format, which uses a
 * two-digit year, MUST interpret a timestamp that appears to be more than 50 years in the future as
 * representing the most recent year in the past that had the same last two digits." Without `now`, the
 * POSIX pivot applies (70–99 → 19xx, 00–69 → 20xx), which agrees with the RFC rule until 2020 and
 * differs only for years 70 and up after that.
 */
export function parseHttpDate(value: string | undefined, now?: number): number | undefined {
  if (value === undefined || value.length > 64) return undefined
  const date = value.replace(SURROUNDING_OWS, '')
  let m = IMF_FIXDATE.exec(date)
  if (m !== null) return build(Number(m[3]), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!)
  m = RFC850_DATE.exec(date)
  if (m !== null) {
    const f = m
    return rfc850Time(Number(f[3]), now, (year) => build(year, f[2]!, Number(f[1]), f[4]!, f[5]!, f[6]!))
  }
  m = ASCTIME_DATE.exec(date)
  if (m !== null) return build(Number(m[6]), m[1]!, Number(m[2]), m[3]!, m[4]!, m[5]!)
  return undefined
}

/** IMF-fixdate (RFC 9110 §5.6.7), the only form a sender may generate. */
export function formatHttpDate(ms: number): string {
  // ECMA-262 pins toUTCString to exactly the IMF-fixdate layout.
  return new Date(ms).toUTCString()
}

/**
 * The instant of an rfc850-date whose year is `twoDigits`, `at(fullYear)` giving the instant for a
 * four-digit year. RFC 9110 §5.6.7: the year in the century of `now`, unless that instant "appears to
 * be more than 50 years in the future", then the same year one century earlier.
 */
function rfc850Time(twoDigits: number, now: number | undefined, at: (fullYear: number) => number | undefined): number | undefined {
  if (now === undefined || !Number.isFinite(now)) return at(twoDigits >= 70 ? 1900 + twoDigits : 2000 + twoDigits)
  const current = new Date(now).getUTCFullYear()
  const year = current - (current % 100) + twoDigits
  const inThisCentury = at(year)
  // 29 Feb of a year that is not a leap year in this century: decide by the year alone.
  if (inThisCentury === undefined) return year > current + 50 ? at(year - 100) : undefined
  const fiftyYearsLater = new Date(now)
  fiftyYearsLater.setUTCFullYear(current + 50)
  return inThisCentury > fiftyYearsLater.getTime() ? at(year - 100) : inThisCentury
}

function build(year: number, monthName: string, day: number, hh: string, mm: string, ss: string): number | undefined {
  const month = MONTH_INDEX[monthName.toLowerCase()]
  const hours = Number(hh)
  const minutes = Number(mm)
  // 60 is a leap second (RFC 9110 §5.6.7 allows it); JavaScript time has none, so it reads as :59, the
  // nearest earlier time RFC 9111 §4.2 asks for when the clock's resolution is coarser.
  const seconds = Math.min(Number(ss), 59)
  if (month === undefined || day < 1 || hours > 23 || minutes > 59 || Number(ss) > 60) return undefined
  const date = new Date(0)
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month, day)
  date.setUTCHours(hours, minutes, seconds, 0)
  if (date.getUTCDate() !== day) return undefined
  return date.getTime()
}
