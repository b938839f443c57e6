/**
 * Fleet-wide miss collapsing across real processes (issue 16): N child processes (test/fixtures/
 * fleet-child.ts), each sending M concurrent requests for one cold URL, against one private
 * redis-server and a slow node:http origin. The origin sees exactly one request and every reply has
 * the right body. Killing (SIGKILL) the process whose request reached the origin first still lets every
 * other process complete its requests, once the dead holder's lock expires, within a bound. The same
 * children serve both rounds (tsx start-up is most of the cost).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { startFixture, stopFixtures, type FixtureChild } from '../helpers/child.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'

const CHILD = 'test/fixtures/fleet-child.ts'
const PROCESSES = 3
const REQUESTS = 5
const ORIGIN_MS = 300
/** The fleet lock's TTL and the longest wait: a dead holder delays the others by about this much. */
const COLLAPSE_TIMEOUT_MS = 1000
/** Bound on one child: tsx start-up (about a second, more with the suite running beside) plus its requests. */
const CHILD_TIMEOUT_MS = 20_000

interface Reply {
  readonly status?: number
  readonly body?: string
  readonly cacheStatus?: string
  readonly error?: string
}

interface Child extends FixtureChild {
  /** Sends one round's path; resolves with its replies once the child says `done`, rejects if it exits first. */
  round(path: string): Promise<Reply[]>
}

function start(redis: RedisServer, origin: Origin, namespace: string, name: string): Child {
  let replies: Reply[] = []
  let waiting: { resolve: (replies: Reply[]) => void; reject: (error: Error) => void } | undefined
  const onLine = (line: string): void => {
    if (line !== 'done') return void replies.push(JSON.parse(line) as Reply)
    waiting?.resolve(replies)
    replies = []
    waiting = undefined
  }
  const args = [redis.url, namespace, origin.url, String(REQUESTS), String(COLLAPSE_TIMEOUT_MS), name]
  const child = startFixture(CHILD, args, { name, timeoutMs: CHILD_TIMEOUT_MS, onLine })
  void child.exited.then((error) => waiting?.reject(error))
  return Object.assign(child, {
    round: (path: string) =>
      new Promise<Reply[]>((resolve, reject) => {
        waiting = { resolve, reject }
        child.writeLine(path)
      }),
  })
}

describe('fleet-wide collapsing across processes (redis store, child processes)', function () {
  this.timeout(CHILD_TIMEOUT_MS + 10_000)

  let redis: RedisServer
  let origin: Origin
  let children: Child[] = []
  let onRequest: (child: string, res: ServerResponse) => void = () => {}

  before(async () => {
    redis = await startRedis()
    origin = await startOrigin((req, res) => onRequest(String(req.headers['x-child']), res))
    const namespace = `procs-${randomBytes(4).toString('hex')}`
    children = Array.from({ length: PROCESSES }, (_, i) => start(redis, origin, namespace, `c${i}`))
    await Promise.all(children.map((child) => child.ready))
  })
  after(async () => {
    // Live children are told to exit and given a moment; one still running after that is killed.
    await stopFixtures(children, { polite: true, graceMs: 2000 })
    await origin?.close()
    await redis?.stop()
  })

  const answer = (res: ServerResponse, body: string): void => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }

  it(`${PROCESSES} processes x ${REQUESTS} concurrent requests for one cold URL: the origin sees 1 request, all get the body`, async () => {
    onRequest = (_child, res) => setTimeout(() => answer(res, 'the one body'), ORIGIN_MS)
    const replies = (await Promise.all(children.map((child) => child.round('/cold')))).flat()
    assert.equal(replies.length, PROCESSES * REQUESTS)
    for (const reply of replies) assert.deepEqual([reply.status, reply.body, reply.error], [200, 'the one body', undefined])
    assert.equal(origin.count('/cold'), 1, JSON.stringify(replies.map((reply) => reply.cacheStatus)))
  })

  it('killing the lock holder mid-request still completes every other process, bounded by the lock TTL', async () => {
    let holder: string | undefined
    let killedAt = 0
    onRequest = (child, res) => {
      // The first request to arrive is the lock holder's: never answered, and its process killed.
      if (holder === undefined) {
        holder = child
        killedAt = Date.now()
        children.find((c) => c.name === child)?.process.kill('SIGKILL')
        // Its socket closes with the process; origin.close() ends anything left.
        return
      }
      setTimeout(() => answer(res, 'after the holder died'), ORIGIN_MS / 4)
    }
    const rounds = children.map((child) => child.round('/killed').then((replies) => ({ child: child.name, replies }), (error: unknown) => ({ child: child.name, error })))
    const results = await Promise.all(rounds)
    assert.ok(holder !== undefined)
    const took = Date.now() - killedAt
    for (const result of results) {
      if (result.child === holder) assert.ok('error' in result, 'the holder was killed')
      else {
        assert.ok('replies' in result, `${result.child}: ${String((result as { error?: unknown }).error)}`)
        assert.equal(result.replies.length, REQUESTS)
        for (const reply of result.replies) assert.deepEqual([reply.status, reply.body, reply.error], [200, 'after the holder died', undefined])
      }
    }
    // The dead holder's request, then one of the survivors' once the lock expired (at most one each).
    const count = origin.count('/killed')
    assert.ok(count >= 2 && count <= PROCESSES, `the origin saw ${count} requests`)
    // The survivors wait out the dead holder's lock (its TTL is collapseTimeout), then one fetches.
    assert.ok(took < COLLAPSE_TIMEOUT_MS + 1500, `the survivors took ${took} ms after the kill`)
  })
})
