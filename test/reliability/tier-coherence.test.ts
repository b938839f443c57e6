/**
 * Coherence of RedisStore's local tier (`localCache`) across real processes (issue 16): two child
 * processes (test/fixtures/tier-child.ts), A and B, each a cache over a RedisStore with a 16 MiB tier
 * on one private redis-server, against a node:http origin whose body for a path carries a version the
 * test sets. For each way of making an entry obsolete (a write, store.delete, store.deleteTags, a POST
 * through the cache, RFC 9111 §4.4), B first serves v1 from its tier; the origin moves to v2; A makes
 * the change while B requests back to back (awaiting each, with no turn of its event loop between
 * them: the tier takes one per hit itself, or the invalidation would never be read), and the time from A's change resolving to B's first response that is not v1 is the measured bound
 * (printed; negative when B saw the change before A's call returned). It must be under two heartbeats
 * (the documented worst case, HEARTBEAT_MS each) and every one of 20 further responses must be v2.
 * A's own read right after its change must be v2 too.
 *
 * Then the tracking connection is lost: CLIENT KILL TYPE pubsub in one MULTI with the deletion of the
 * entry (so its invalidation is certainly never delivered), and Redis killed (SIGKILL) and restarted
 * (empty: no persistence) while the origin moves on. B must stop serving the old body (its tier
 * emptied, `drops` up) and, once Redis is back, serve no old body at all; its tier then comes back and
 * is coherent again. The children serve every case (tsx start-up is most of the cost).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createClient } from 'redis'
import { HEARTBEAT_MS } from '../../lib/stores/redis-tracking.js'
import { startFixture, stopFixtures, type FixtureChild } from '../helpers/child.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { entryKeys, startRedis, type RedisServer } from '../helpers/redis-server.js'

const CHILD = 'test/fixtures/tier-child.ts'
/** The documented worst case for an invalidation to reach another process's tier: two heartbeats. */
const BOUND_MS = 2 * HEARTBEAT_MS
/** How long B keeps asking before giving up on seeing the change (past the bound, to measure a miss). */
const POLL_MS = BOUND_MS + 500
const FURTHER = 20
/** Bound on one child: tsx start-up (a second or more with the suite beside it) plus every case. */
const CHILD_TIMEOUT_MS = 60_000
/** Bound on one command's answer. */
const COMMAND_TIMEOUT_MS = 10_000
/** Bound on waiting for a tier to come back or a store to reconnect. */
const RECOVERY_MS = 8000

const now = (): number => performance.timeOrigin + performance.now()

type Result = Record<string, unknown> & { readonly at: number; readonly error?: string }
interface Reply {
  readonly body: string
  readonly cacheStatus: string
}
interface Polled {
  readonly first?: Reply & { readonly at: number }
  readonly lastStale?: Reply & { readonly startedAt: number }
  readonly staleServed: number
  readonly further: readonly Reply[]
}
interface Measured {
  /** When B's first new body arrived, and when B asked for its last old one, after the change resolved. */
  readonly first: number
  readonly lastStale: number | undefined
}
interface Stats {
  readonly live: boolean
  readonly hits: number
  readonly drops: number
  readonly ready: boolean
}

interface Child extends FixtureChild {
  send<T = Result>(command: Record<string, unknown>): Promise<T>
}

function start(redis: RedisServer, origin: Origin, namespace: string, name: string): Child {
  let nextId = 0
  const waiting = new Map<number, { resolve: (result: Result) => void; reject: (error: Error) => void }>()
  const onLine = (line: string): void => {
    const result = JSON.parse(line) as Result & { id: number }
    waiting.get(result.id)?.resolve(result)
    waiting.delete(result.id)
  }
  const child = startFixture(CHILD, [redis.url, namespace, origin.url], { name, timeoutMs: CHILD_TIMEOUT_MS, onLine })
  void child.exited.then((error) => {
    for (const { reject } of waiting.values()) reject(error)
  })
  const send = <T>(command: Record<string, unknown>): Promise<T> => {
    const id = nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child ${name}: no answer to ${JSON.stringify(command)} within ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS)
      waiting.set(id, {
        resolve: (result) => {
          clearTimeout(timer)
          if (result.error !== undefined) reject(new Error(`child ${name}: ${result.error}; stderr: ${child.stderr()}`))
          else resolve(result as T)
        },
        reject: (error) => (clearTimeout(timer), reject(error)),
      })
      child.writeLine(JSON.stringify({ ...command, id }))
    })
  }
  return Object.assign(child, { send })
}

describe('local tier coherence across processes (redis store with localCache, child processes)', function () {
  this.timeout(CHILD_TIMEOUT_MS)

  let redis: RedisServer
  let origin: Origin
  let namespace: string
  let a: Child
  let b: Child
  const versions = new Map<string, number>()
  const body = (path: string, version: number): string => `${path} v${version}`

  before(async () => {
    redis = await startRedis()
    origin = await startOrigin((req, res) => {
      const path = req.url ?? '/'
      const text = req.method === 'GET' ? body(path, versions.get(path) ?? 1) : 'changed'
      res.writeHead(200, { 'cache-control': req.method === 'GET' ? 'max-age=600' : 'no-store', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    })
    namespace = `tier-${randomBytes(4).toString('hex')}`
    ;[a, b] = ['A', 'B'].map((name) => start(redis, origin, namespace, name)) as [Child, Child]
    await Promise.all([a.ready, b.ready])
  })
  after(async () => {
    await stopFixtures([a, b], { polite: false, graceMs: 0 })
    await origin?.close()
    await redis?.stop()
  })

  const stats = (child: Child): Promise<Stats> => child.send<Stats>({ op: 'stats' })

  async function until(child: Child, condition: (stats: Stats) => boolean, what: string): Promise<Stats> {
    const deadline = Date.now() + RECOVERY_MS
    for (;;) {
      const current = await stats(child)
      if (condition(current)) return current
      if (Date.now() > deadline) assert.fail(`${child.name}: no ${what} within ${RECOVERY_MS} ms (${JSON.stringify(current)})`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  /** `child` serves `path` from its tier, with the body of `version`. */
  async function warm(child: Child, path: string, version: number, tags?: string[]): Promise<void> {
    const warmed = await child.send<{ fromTier: boolean; body?: string; tries: number }>({ op: 'warm', path, tags, limitMs: RECOVERY_MS })
    assert.ok(warmed.fromTier, `${child.name} never served ${path} from its tier in ${warmed.tries} tries`)
    assert.equal(warmed.body, body(path, version))
  }

  /**
   * B asks for `path` back to back (a turn of its event loop between requests) while `act` runs, until
   * a body is none of `stale`, then FURTHER more, which must all be `fresh`. Measures the first such
   * body's arrival, and the start of the last stale one, from the time `act` gives (when the change
   * resolved, on the shared clock of the machine).
   */
  async function measure(path: string, stale: number[], fresh: number, act: () => Promise<number>): Promise<Measured> {
    const polling = b.send<Polled>({ op: 'poll', path, stale: stale.map((v) => body(path, v)), limitMs: POLL_MS, further: FURTHER })
    // Should `act` fail, the poll still settles (bounded) with nobody waiting for it.
    polling.catch(() => {})
    const since = await act()
    const polled = await polling
    assert.ok(polled.first !== undefined, `B still served ${path} v${stale.join('/v')} ${POLL_MS} ms on (${polled.staleServed} times)`)
    assert.equal(polled.first.body, body(path, fresh))
    assert.equal(polled.further.length, FURTHER)
    for (const reply of polled.further) assert.equal(reply.body, body(path, fresh), reply.cacheStatus)
    return { first: polled.first.at - since, lastStale: polled.lastStale === undefined ? undefined : polled.lastStale.startedAt - since }
  }

  function report(what: string, measured: Measured): void {
    const { first, lastStale } = measured
    const relative = (ms: number): string => `${Math.abs(ms).toFixed(1)} ms ${ms < 0 ? 'before' : 'after'}`
    const last = lastStale === undefined ? 'B asked for no old body' : `B last asked for an old body ${relative(lastStale)} it`
    console.log(`      tier invalidation reached B: first new body ${relative(first)} the ${what} resolved (${last})`)
    assert.ok(first < BOUND_MS, `${what}: ${first.toFixed(1)} ms, over the bound of ${BOUND_MS} ms`)
  }

  /**
   * B and A serve v1 of a new path from their tiers; the origin moves to v2; A makes `change` (a child
   * command) while B polls, then reads the path itself at once.
   */
  async function coherent(what: string, change: Record<string, unknown>, check: (done: Result) => void, tags?: string[]): Promise<void> {
    const path = `/${what.replace(/\W+/g, '-')}-${randomBytes(3).toString('hex')}`
    versions.set(path, 1)
    await warm(b, path, 1, tags)
    await warm(a, path, 1, tags)
    versions.set(path, 2)
    let done: (Result & { own: Reply }) | undefined
    const measured = await measure(path, [1], 2, async () => {
      done = await a.send<Result & { own: Reply }>({ ...change, path, tags, own: true })
      return done.at
    })
    check(done!)
    // A's own tier was invalidated before its change was sent: its next read is v2 at once.
    assert.equal(done!.own.body, body(path, 2), `A's own read after its ${what}: ${done!.own.cacheStatus}`)
    report(what, measured)
  }

  /** A deletes `path` while B polls: the tier is coherent (again). */
  async function deleteInA(what: string, path: string, stale: number, fresh: number): Promise<void> {
    const measured = await measure(path, [stale], fresh, async () => {
      const deleted = await a.send<Result & { count: number }>({ op: 'delete', path })
      assert.ok(deleted.count >= 1)
      return deleted.at
    })
    report(what, measured)
  }

  const deletedSome = (done: Result): void => assert.ok(Number(done['count']) >= 1, `deleted ${String(done['count'])}`)

  it('a write (a forced refresh, cache mode reload) in A reaches B\'s tier within the bound', async () => {
    await coherent('write', { op: 'reload' }, (done) => assert.match(String(done['cacheStatus']), /stored/))
  })

  it('store.delete(url) in A reaches B\'s tier within the bound', async () => {
    await coherent('delete', { op: 'delete' }, deletedSome)
  })

  it('store.deleteTags([tag]) in A reaches B\'s tier within the bound (tags given per request)', async () => {
    const tag = `t-${randomBytes(3).toString('hex')}`
    await coherent('tag delete', { op: 'deleteTags', tag }, deletedSome, [tag])
  })

  it('a POST through the cache in A (RFC 9111 §4.4) reaches B\'s tier within the bound', async () => {
    await coherent('§4.4 POST', { op: 'post' }, (done) => assert.equal(done['status'], 200))
  })

  it('losing the tracking connection (CLIENT KILL TYPE pubsub) with a delete it never hears of: B serves nothing stale', async () => {
    const path = `/pubsub-kill-${randomBytes(3).toString('hex')}`
    versions.set(path, 1)
    await warm(b, path, 1)
    const before = await stats(b)
    versions.set(path, 3)
    // In one MULTI: the invalidation of the UNLINK is generated after the tracking connections were
    // killed, so B never receives it. Only the tier emptying on the loss protects B.
    const admin = createClient({ url: redis.url })
    await admin.connect()
    try {
      const keys = await entryKeys(redis, namespace)
      assert.ok(keys.length > 0)
      report(
        'CLIENT KILL TYPE pubsub with an UNLINK B never hears of',
        await measure(path, [1, 2], 3, async () => {
          await admin.multi().addCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']).addCommand(['UNLINK', ...keys]).exec()
          return now()
        }),
      )
    } finally {
      await admin.disconnect()
    }
    await until(b, (s) => s.drops > before.drops, 'tier drop')
    // Tracking comes back, B's tier serves again, and is coherent again.
    await until(b, (s) => s.live, 'tier back')
    await warm(b, path, 3)
    versions.set(path, 4)
    await deleteInA('delete after tracking came back', path, 3, 4)
  })

  it('Redis killed (SIGKILL) and restarted: once it is back B never serves an old body; its tier returns, coherent', async () => {
    const path = `/redis-kill-${randomBytes(3).toString('hex')}`
    versions.set(path, 1)
    await warm(b, path, 1)
    versions.set(path, 2)
    await measure(path, [1], 2, async () => (await a.send<Result>({ op: 'reload', path })).at)
    await warm(b, path, 2)
    const before = await stats(b)
    await redis.kill()
    versions.set(path, 3)
    // No persistence: Redis comes back empty, which deletes the entry B's tier held.
    await redis.restart()
    const backAt = now()
    const polled = await b.send<Polled>({ op: 'poll', path, stale: [body(path, 1), body(path, 2)], limitMs: POLL_MS, further: FURTHER })
    assert.equal(polled.staleServed, 0, 'B served an old body after Redis was back')
    assert.equal(polled.first?.body, body(path, 3))
    assert.equal(polled.further.length, FURTHER)
    for (const reply of polled.further) assert.equal(reply.body, body(path, 3), reply.cacheStatus)
    const after = await stats(b)
    assert.ok(after.drops > before.drops, `drops ${before.drops} → ${after.drops}`)
    console.log(`      Redis restarted: B's first response ${(polled.first!.at - backAt).toFixed(1)} ms after it was back was v3; drops ${before.drops} → ${after.drops}`)
    // Both stores reconnect, B's tier reopens and serves v3, and A's next change reaches it.
    await until(a, (s) => s.ready, 'reconnect of A')
    await until(b, (s) => s.live && s.ready, 'tier back')
    await warm(b, path, 3)
    versions.set(path, 4)
    await deleteInA('delete after Redis restarted', path, 3, 4)
  })
})
