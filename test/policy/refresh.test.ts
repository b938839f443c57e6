/**
 * policy/entry-plan.ts refreshChangesNothing: when a refresh by a 304 need not be written back (the
 * stored response is still fresh and the 304 changed none of its fields but Date).
 */
import assert from 'node:assert/strict'
import type { HeaderRecord } from '../../lib/headers.js'
import { refreshChangesNothing } from '../../lib/policy/entry-plan.js'

const NOW = Date.UTC(2026, 0, 1, 12)
const stored = (headers: HeaderRecord, ageSeconds = 10, lifetime = 60) => ({ initialAge: 0, responseTime: NOW - ageSeconds * 1000, lifetime, headers })
const FIELDS = { etag: '"a"', 'cache-control': 'max-age=60', date: 'Thu, 01 Jan 2026 11:59:50 GMT', vary: ['accept', 'accept-language'] }

describe('policy/entry-plan refreshChangesNothing', () => {
  it('skips the write of a fresh entry whose fields the 304 left alone, Date aside', () => {
    assert.equal(refreshChangesNothing(stored(FIELDS), { headers: { ...FIELDS, date: 'Thu, 01 Jan 2026 12:00:00 GMT' } }, NOW), true)
  })

  it('writes a stale entry back, changed or not', () => {
    assert.equal(refreshChangesNothing(stored(FIELDS, 60), { headers: FIELDS }, NOW), false)
  })

  it('writes back a new field, a changed one, a removed one, or lines that differ', () => {
    for (const headers of [
      { ...FIELDS, 'x-new': '1' },
      { ...FIELDS, 'cache-control': 'max-age=120' },
      { etag: FIELDS.etag, 'cache-control': FIELDS['cache-control'], date: FIELDS.date },
      { ...FIELDS, vary: ['accept-language', 'accept'] },
      { ...FIELDS, vary: 'accept, accept-language' },
    ] as HeaderRecord[]) {
      assert.equal(refreshChangesNothing(stored(FIELDS), { headers }, NOW), false, JSON.stringify(headers))
    }
  })
})
