/**
 * HTTP-date parsing and formatting (RFC 9110 §5.6.7). Only the three forms the RFC names are accepted;
 * `Date.parse` is never used because it turns junk such as `'0'` or `'1'` into a date in some engines,
 * and RFC 9111 §5.3 needs those to be recognised as invalid.
 */

const MONTHS = 'jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec'
const MONTH_INDEX: Readonly<Record<string, number>> = Object.fromEntries(MONTHS.split('|').map((m, i) => [m, i]))

// RFC 9110 §5.6.7 says recipients are "encouraged to be robust", so the patterns accept any case, extra
// whitespace, a one-digit day and `UTC` for `GMT`; they stay anchored so nothing else slips through.
// IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = new RegExp(
  `^\\s*(?:mon|tue|wed|thu|fri|sat|sun)\\s*,\\s*(\\d{1,2})\\s+(${MONTHS})\\s+(\\d{4})\\s+(\\d{2}):(\\d{2}):(\\d{2})\\s+(?:gmt|utc)\\s*$`,
  'i',
)
// obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
const RFC850_DATE = new RegExp(
  `^\\s*(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\\s*,\\s*(\\d{1,2})-(${MONTHS})-(\\d{2})\\s+(\\d{2}):(\\d{2}):(\\d{2})\\s+(?:gmt|utc)\\s*$`,
  'i',
)
// obsolete asctime: Sun Nov  6 08:49:37 1994
const ASCTIME_DATE = new RegExp(
  `^\\s*(?:mon|tue|wed|thu|fri|sat|sun)\\s+(${MONTHS})\\s+(\\d{1,2})\\s+(\\d{2}):(\\d{2}):(\\d{2})\\s+(\\d{4})\\s*$`,
  'i',
)

/**
 * Epoch milliseconds of an HTTP-date in IMF-fixdate, RFC 850 or asctime form; undefined for anything
 * else, including out-of-range fields (`32 Jan`, `25:00:00`).
 *
 * `now` (epoch ms) resolves RFC 850's two-digit years as RFC 9110 §5.6.7 requires: a year that appears
 * more than 50 years in the future is the most recent past year with those digits. Without `now`, the
 * POSIX pivot applies (70–99 → 19xx, 00–69 → 20xx), which agrees with the RFC rule for dates this
 * century.
 */
export function parseHttpDate(value: string | undefined, now?: number): number | undefined {
  if (value === undefined || value.length > 64) return undefined
  let m = IMF_FIXDATE.exec(value)
  if (m !== null) return build(Number(m[3]), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!)
  m = RFC850_DATE.exec(value)
  if (m !== null) return build(fullYear(Number(m[3]), now), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!)
  m = ASCTIME_DATE.exec(value)
  if (m !== null) return build(Number(m[6]), m[1]!, Number(m[2]), m[3]!, m[4]!, m[5]!)
  return undefined
}

/** IMF-fixdate (RFC 9110 §5.6.7), the only form a sender may generate. */
export function formatHttpDate(ms: number): string {
  // ECMA-262 pins toUTCString to exactly the IMF-fixdate layout.
  return new Date(ms).toUTCString()
}

function fullYear(twoDigits: number, now: number | undefined): number {
  if (now === undefined || !Number.isFinite(now)) return twoDigits >= 70 ? 1900 + twoDigits : 2000 + twoDigits
  const current = new Date(now).getUTCFullYear()
  let year = current - (current % 100) + twoDigits
  if (year > current + 50) year -= 100
  return year
}

function build(year: number, monthName: string, day: number, hh: string, mm: string, ss: string): number | undefined {
  const month = MONTH_INDEX[monthName.toLowerCase()]
  const hours = Number(hh)
  const minutes = Number(mm)
  // 60 is a leap second (RFC 9110 §5.6.7 allows it); JavaScript time has none, so it reads as :59.
  const seconds = Math.min(Number(ss), 59)
  if (month === undefined || day < 1 || hours > 23 || minutes > 59 || Number(ss) > 60) return undefined
  const date = new Date(0)
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month, day)
  date.setUTCHours(hours, minutes, seconds, 0)
  if (date.getUTCDate() !== day) return undefined
  return date.getTime()
}
