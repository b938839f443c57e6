/**
 * RFC 9211 Cache-Status: our member for each outcome, and where it goes in an existing list.
 */
import assert from 'node:assert/strict'
import { appendCacheStatus, formatCacheStatus, type CacheOutcome } from '../lib/status.js'
import { cachedAgent, send } from './helpers/client.js'
import { fixed, startOrigin } from './helpers/origin.js'

describe('formatCacheStatus', () => {
  const rows: Array<{ name: string; outcome: CacheOutcome; expected: string }> = [
    { name: 'fresh hit (§2.1, §2.4)', outcome: { kind: 'hit', ttl: 42 }, expected: 'c; hit; ttl=42' },
    { name: 'fractional ttl is truncated to an integer', outcome: { kind: 'hit', ttl: 41.9 }, expected: 'c; hit; ttl=41' },
    { name: 'a ttl just under zero prints as 0, never -0', outcome: { kind: 'hit', ttl: -0.25 }, expected: 'c; hit; ttl=0' },
    { name: 'stale hit: negative ttl with detail', outcome: { kind: 'hit', ttl: -5.5, detail: 'max-stale' }, expected: 'c; hit; ttl=-5; detail=max-stale' },
    { name: 'stale-while-revalidate hit', outcome: { kind: 'hit', ttl: -3, detail: 'stale-while-revalidate' }, expected: 'c; hit; ttl=-3; detail=stale-while-revalidate' },
    { name: 'miss, stored (§2.2, §2.3, §2.5)', outcome: { kind: 'forward', fwd: 'miss', status: 200, stored: true }, expected: 'c; fwd=miss; fwd-status=200; stored' },
    { name: 'miss, not stored', outcome: { kind: 'forward', fwd: 'miss', status: 500, stored: false }, expected: 'c; fwd=miss; fwd-status=500' },
    { name: 'vary-miss', outcome: { kind: 'forward', fwd: 'vary-miss', status: 200, stored: true }, expected: 'c; fwd=vary-miss; fwd-status=200; stored' },
    { name: 'revalidated with 304, new ttl', outcome: { kind: 'forward', fwd: 'stale', status: 304, ttl: 60 }, expected: 'c; fwd=stale; fwd-status=304; ttl=60' },
    { name: 'request directive forced a forward', outcome: { kind: 'forward', fwd: 'request', status: 200, stored: true, ttl: 30.7 }, expected: 'c; fwd=request; fwd-status=200; stored; ttl=30' },
    { name: 'bypass with detail', outcome: { kind: 'forward', fwd: 'bypass', status: 200, detail: 'credentials' }, expected: 'c; fwd=bypass; fwd-status=200; detail=credentials' },
    { name: 'method not cached, no origin status yet', outcome: { kind: 'forward', fwd: 'method' }, expected: 'c; fwd=method' },
    { name: 'stale-if-error after an origin error', outcome: { kind: 'forward', fwd: 'stale', status: 503, detail: 'stale-if-error' }, expected: 'c; fwd=stale; fwd-status=503; detail=stale-if-error' },
    { name: 'synthetic only-if-cached 504', outcome: { kind: 'synthetic', detail: 'only-if-cached' }, expected: 'c; detail=only-if-cached' },
  ]
  for (const row of rows) {
    it(`${row.name} → ${row.expected}`, () => assert.equal(formatCacheStatus('c', row.outcome), row.expected))
  }

  it('uses the configured cache name as the member (an sf-token)', () => {
    assert.equal(formatCacheStatus('edge-cache', { kind: 'hit', ttl: 1 }), 'edge-cache; hit; ttl=1')
  })
})

describe('appendCacheStatus', () => {
  // RFC 9211 §2: members run from the cache nearest the origin to the one nearest the user; we are last.
  const rows: Array<{ name: string; existing: string | readonly string[] | undefined; expected: string }> = [
    { name: 'no header', existing: undefined, expected: 'ours; hit; ttl=1' },
    { name: 'an empty header', existing: '', expected: 'ours; hit; ttl=1' },
    { name: 'an empty list of lines', existing: [], expected: 'ours; hit; ttl=1' },
    { name: 'one upstream member', existing: 'origin-cache; hit', expected: 'origin-cache; hit, ours; hit; ttl=1' },
    { name: 'two members on one line', existing: 'a; fwd=miss, b; hit', expected: 'a; fwd=miss, b; hit, ours; hit; ttl=1' },
    { name: 'two field lines', existing: ['a; fwd=miss', 'b; hit'], expected: 'a; fwd=miss, b; hit, ours; hit; ttl=1' },
  ]
  for (const row of rows) {
    it(`${row.name} → ${row.expected}`, () => assert.equal(appendCacheStatus(row.existing, 'ours; hit; ttl=1'), row.expected))
  }

  it('end to end: an upstream Cache-Status comes first, ours last, on the miss and on the hit', async () => {
    const origin = await startOrigin(fixed('upstream', { 'cache-control': 'max-age=60', 'cache-status': 'cdn; fwd=uri-miss' }))
    const { dispatcher, close } = cachedAgent({ cacheStatus: 'app' })
    try {
      const miss = await send(dispatcher, `${origin.url}/upstream`)
      const hit = await send(dispatcher, `${origin.url}/upstream`)
      assert.equal(miss.cacheStatus, 'cdn; fwd=uri-miss, app; fwd=miss; fwd-status=200; stored')
      assert.match(hit.cacheStatus ?? '', /^cdn; fwd=uri-miss, app; hit; ttl=\d+$/)
    } finally {
      await close()
      await origin.close()
    }
  })
})
