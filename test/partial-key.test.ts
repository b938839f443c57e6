/**
 * The key partial responses are stored under (key.ts partialKey, RFC 9111 §3.3): apart from the complete
 * response's, derived from the primary id alone (so invalidation finds it), and pinned, since changing
 * it would orphan the partial entries of a shared store.
 */
import assert from 'node:assert/strict'
import { hashKey, partialId, partialKey, requestKey, type KeyOptions } from '../lib/key.js'

const OPTIONS: KeyOptions = { ignoredParams: new Set(), ignoredHeaders: new Set(), matchHeaders: true, keyFn: undefined, partition: undefined }

describe('key partialKey', () => {
  const key = requestKey({ method: 'GET', url: new URL('https://example.com/video.mp4'), headers: {} }, OPTIONS)

  it('differs from the complete response\'s key, and its id comes from the primary id alone', () => {
    const partial = partialKey(key)
    assert.notEqual(partial.id, key.id)
    assert.notEqual(partial.canonical, key.canonical)
    assert.equal(partial.id, partialId(key.id))
    assert.match(partial.id, /^[0-9a-f]{32}$/)
  })

  it('is pinned', () => {
    assert.equal(partialId('0123456789abcdef0123456789abcdef'), hashKey('["v1","partial","0123456789abcdef0123456789abcdef"]'))
    assert.equal(partialId('0123456789abcdef0123456789abcdef'), '9d7e63c3e9343b1f5b674390e19fe989')
  })

  it('a Range request keys as the request for the complete response, even with matchHeaders: true (RFC 9110 §14)', () => {
    const ranged = requestKey({ method: 'GET', url: new URL('https://example.com/video.mp4'), headers: { range: 'bytes=0-99' } }, OPTIONS)
    assert.deepEqual(ranged, key)
  })
})
