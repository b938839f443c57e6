import assert from 'node:assert/strict'
import type { HeaderRecord } from '../../lib/headers.js'
import { conditionalHeaders, hasValidator } from '../../lib/policy/conditional.js'

describe('policy/conditional conditionalHeaders and hasValidator', () => {
  const rows: ReadonlyArray<{ name: string; stored: HeaderRecord; method?: string; expected: Record<string, string> }> = [
    { name: 'no validators', stored: { 'content-type': 'text/plain' }, expected: {} },
    { name: 'strong ETag', stored: { etag: '"abc"' }, expected: { 'if-none-match': '"abc"' } },
    { name: 'weak ETag is sent as is (If-None-Match uses weak comparison)', stored: { etag: 'W/"abc"' }, expected: { 'if-none-match': 'W/"abc"' } },
    { name: 'ETag is trimmed', stored: { etag: '  "abc" ' }, expected: { 'if-none-match': '"abc"' } },
    { name: 'empty ETag is no validator', stored: { etag: '' }, expected: {} },
    { name: 'Last-Modified IMF-fixdate', stored: { 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT' }, expected: { 'if-modified-since': 'Sun, 06 Nov 1994 08:49:37 GMT' } },
    { name: 'Last-Modified in RFC 850 form is sent as IMF-fixdate', stored: { 'last-modified': 'Sunday, 06-Nov-94 08:49:37 GMT' }, expected: { 'if-modified-since': 'Sun, 06 Nov 1994 08:49:37 GMT' } },
    { name: 'Last-Modified in asctime form is sent as IMF-fixdate', stored: { 'last-modified': 'Sun Nov  6 08:49:37 1994' }, expected: { 'if-modified-since': 'Sun, 06 Nov 1994 08:49:37 GMT' } },
    { name: 'invalid Last-Modified is no validator', stored: { 'last-modified': 'yesterday' }, expected: {} },
    { name: 'numeric Last-Modified is no validator', stored: { 'last-modified': '0' }, expected: {} },
    {
      name: 'both validators',
      stored: { etag: '"v2"', 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT' },
      expected: { 'if-none-match': '"v2"', 'if-modified-since': 'Sun, 06 Nov 1994 08:49:37 GMT' },
    },
    { name: 'ETag with an invalid Last-Modified', stored: { etag: '"v2"', 'last-modified': 'garbage' }, expected: { 'if-none-match': '"v2"' } },
    // RFC 9110 §13.1.2: a POST with If-None-Match would be failed with 412, or run again.
    { name: "a stored POST's validators are not used", method: 'POST', stored: { etag: '"v2"', 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT' }, expected: {} },
  ]
  for (const row of rows) {
    it(row.name, () => {
      const stored = { method: row.method ?? 'GET', headers: row.stored }
      assert.deepEqual(conditionalHeaders(stored), row.expected)
      assert.equal(hasValidator(stored), Object.keys(row.expected).length > 0)
    })
  }
})
