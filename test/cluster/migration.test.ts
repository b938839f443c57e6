/**
 * Issue 15: a slot holding a cached entry moves to another master while the cache serves traffic, by
 * the classic resharding steps (CLUSTER SETSLOT … IMPORTING / MIGRATING, MIGRATE … KEYS, SETSLOT …
 * NODE on every master). While its keys sit on the new master but the slot is still the old one's,
 * the old master answers ASK; once the slot is reassigned, MOVED. Every request still gets its own
 * URL's body with status 200, no error reaches the caller, each stays within a bound set by the
 * command timeout, and afterwards the entry is a hit served by its new master. The latencies are
 * printed (`[cluster-migration]`).
 */
import assert from 'node:assert/strict'
import { CacheError } from '../../lib/index.js'
import { sleep } from '../helpers/faults.js'
import {
  assertAllServed,
  bodyFor,
  clusterFaultSuite,
  infoCounter,
  report,
  summarize,
  untilHit,
  warm,
} from '../helpers/cluster-traffic.js'

const COMMAND_TIMEOUT = 200
/**
 * Looser than needed: no node stops answering during a migration, so a request's store calls (see
 * failover.test.ts) answer at once or are redirected; three command timeouts plus slack for late timers.
 */
const BOUND_MS = 3 * COMMAND_TIMEOUT + 100
const PATHS = Array.from({ length: 8 }, (_, i) => `/migration-${i}`)
/** Long enough for the traffic to meet each state of the slot many times over. */
const PHASE_MS = 1000

describe('Redis Cluster: a slot migrated during traffic (ASK, then MOVED)', function () {
  this.timeout(60_000)

  // Fresh for one second only: entries go stale and are written again during the migration, so
  // writes (MULTI per entry, index updates) meet the moving slot too, not only reads.
  const suite = clusterFaultSuite(1)

  it('right bodies, no caller error, bounded latency through ASK and MOVED; a hit on the new master after', async () => {
    const c = suite.cluster()
    const r = await suite.rig(COMMAND_TIMEOUT)
    const placements = await warm(r, c, PATHS)
    const moving = placements[0]!
    const slot = String(moving.slot)
    const source = await c.masterOf(moving.slot)
    const target = (await c.masters()).find((node) => node !== source)!
    const [sourceId, targetId] = await Promise.all([source.cli('CLUSTER', 'MYID'), target.cli('CLUSTER', 'MYID')])
    const others = (await c.masters()).filter((node) => node !== source && node !== target)
    // Counted by the servers themselves: the redirections the source sent and the ASKING the client
    // sent the target before following one. This test's own commands never touch a moving key.
    const askBefore = await infoCounter(source, 'errorstats', 'errorstat_ASK', 'count')
    const movedBefore = await infoCounter(source, 'errorstats', 'errorstat_MOVED', 'count')
    const askingBefore = await infoCounter(target, 'commandstats', 'cmdstat_asking', 'calls')

    const load = suite.traffic(r, PATHS, { concurrency: 4, pauseMs: 5, maxRequests: 20_000, maxMs: 30_000 })
    await sleep(300)
    const startedAt = performance.now()

    // 1. Mark the slot: the target imports it, the source migrates it. Its keys are still on the source.
    assert.equal(await target.cli('CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId), 'OK')
    assert.equal(await source.cli('CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId), 'OK')
    await sleep(PHASE_MS / 2)

    // 2. Move the keys. A write meanwhile may create a key the source then sends on by ASK, so move
    //    until the source holds none (bounded: a moving slot takes no new keys on the source).
    let moved = 0
    for (let round = 0; round < 10; round++) {
      const keys = (await source.cli('CLUSTER', 'GETKEYSINSLOT', slot, '1000')).split('\n').filter(Boolean)
      if (keys.length === 0) break
      const reply = await source.cli('MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'REPLACE', 'KEYS', ...keys)
      assert.match(reply, /^(OK|NOKEY)$/)
      moved += keys.length
    }
    assert.ok(moved >= 1, 'the slot held no key to move')
    // The keys are on the target, the slot is still the source's: ASK for every command on them.
    await sleep(PHASE_MS)

    // 3. Give the slot to the target: target first, then the source (so no node ever answers for a
    //    slot nobody owns), then the other masters. The client's map is stale: MOVED on its next command.
    for (const node of [target, source, ...others]) assert.equal(await node.cli('CLUSTER', 'SETSLOT', slot, 'NODE', targetId), 'OK')
    await sleep(PHASE_MS)
    await c.settled()
    const endedAt = performance.now()
    load.stop()
    const samples = await load.done

    const during = samples.filter((s) => s.startedAt >= startedAt && s.startedAt < endedAt)
    const asks = (await infoCounter(source, 'errorstats', 'errorstat_ASK', 'count')) - askBefore
    const moveds = (await infoCounter(source, 'errorstats', 'errorstat_MOVED', 'count')) - movedBefore
    const askings = (await infoCounter(target, 'commandstats', 'cmdstat_asking', 'calls')) - askingBefore
    report('cluster-migration', summarize(during), `window=${(endedAt - startedAt).toFixed(0)}ms keysMoved=${moved} ASK=${asks} ASKING=${askings} MOVED=${moveds} commandTimeout=${COMMAND_TIMEOUT}ms bound=${BOUND_MS}ms`)
    assert.ok(during.length >= 50, `only ${during.length} requests during the migration`)
    assertAllServed(samples, BOUND_MS)
    assert.ok(asks > 0, 'the source never answered ASK: the traffic missed the migrating window')
    assert.ok(askings > 0, 'the client never followed an ASK to the target')
    assert.ok(moveds > 0, 'the source never answered MOVED: the client learnt the new owner some other way')

    // Caching on the new topology: the moved URL is a hit, its entry on the target (asked directly).
    assert.equal(await c.masterOf(moving.slot), target)
    await untilHit(r, moving.path, 10_000)
    assert.equal(await target.cli('EXISTS', moving.key), '1')
    assert.ok(r.errors.every((e) => e instanceof CacheError), 'onError got only CacheErrors')
    assert.deepEqual(r.watch.events, [])
  })
})
