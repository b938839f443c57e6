/**
 * The operator CLI (issue 4), run as a child process against a throwaway Redis filled through the
 * real interceptor.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { RedisStore } from '../lib/stores/redis-store.js'
import { cachedAgent, eventually, send } from './helpers/client.js'
import { startOrigin, type Origin } from './helpers/origin.js'
import { freePort, type RedisServer } from './helpers/redis-server.js'
import { releaseRedis, useRedis } from './helpers/stores.js'
import { collect } from './stores/store-contract.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** Bound on one CLI run: tsx start-up plus the CLI's own 3 s connect timeout, with room. */
const RUN_TIMEOUT_MS = 20_000

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

function cli(...args: string[]): Promise<Run> {
  const started = Date.now()
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'lib/cli.ts', ...args],
      // REDIS_URL points at the fixture so that no run can reach a developer's Redis on 6379.
      { cwd: ROOT, timeout: RUN_TIMEOUT_MS, env: { ...process.env, REDIS_URL: redis.url } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
        resolve({ code, stdout, stderr, ms: Date.now() - started })
      },
    )
  })
}

let redis: RedisServer
let origin: Origin
const open: RedisStore[] = []

before(async function () {
  this.timeout(10_000)
  redis = await useRedis()
  origin = await startOrigin((req, res) => {
    if (req.url === '/stale') {
      res.writeHead(200, { 'cache-control': 'max-age=1', age: '5', etag: '"s"' })
      return res.end('stale on arrival')
    }
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.end(`body of ${req.url}`)
  })
})

after(async () => {
  await Promise.all(open.splice(0).map((store) => store.close()))
  await origin?.close()
  await releaseRedis()
})

/** A namespace holding /one, /two?x=1 and /stale, cached through the interceptor. */
async function populated(options: { ttl?: boolean } = {}): Promise<{ namespace: string; store: RedisStore }> {
  const namespace = `cli-${randomBytes(4).toString('hex')}`
  const store = new RedisStore({ url: redis.url, namespace, ...options })
  open.push(store)
  await store.ready()
  const { dispatcher, close } = cachedAgent({ store })
  try {
    for (const path of ['/one', '/two?x=1', '/stale']) await send(dispatcher, `${origin.url}${path}`)
    await eventually(async () => (await collect(store.keys())).length === 3)
  } finally {
    await close()
  }
  return { namespace, store }
}

describe('undici-redis-cache CLI', function () {
  this.timeout(RUN_TIMEOUT_MS + 5000)

  it('lists what was cached, one tab-separated line per entry', async () => {
    const { namespace, store } = await populated()
    const run = await cli('list', '--url', redis.url, '--namespace', namespace)
    assert.equal(run.code, 0, run.stderr)
    const expected = (await collect(store.entries())).map((entry) =>
      [entry.status, entry.method, entry.url, entry.size, entry.storedAt.toISOString(), entry.expiresAt?.toISOString(), entry.stale ? 'stale' : 'fresh'].join('\t'),
    )
    assert.deepEqual(run.stdout.trimEnd().split('\n').sort(), expected.sort())
    assert.deepEqual(run.stdout.split('\n').filter((line) => line.endsWith('\tstale')).map((line) => line.split('\t')[2]), [`${origin.url}/stale`])
  })

  it('lists JSON lines with --json, and at most N with --limit', async () => {
    const { namespace, store } = await populated()
    const run = await cli('list', '--json', '--url', redis.url, '--namespace', namespace)
    assert.equal(run.code, 0, run.stderr)
    const listed = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    const expected = JSON.parse(JSON.stringify(await collect(store.entries()))) as Record<string, unknown>[]
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>): number => String(a['id']).localeCompare(String(b['id']))
    assert.deepEqual(listed.sort(byId), expected.sort(byId))

    const limited = await cli('list', '--limit', '2', '--url', redis.url, '--namespace', namespace)
    assert.equal(limited.code, 0, limited.stderr)
    assert.equal(limited.stdout.trimEnd().split('\n').length, 2)
  })

  it('prints stats as a table and as JSON', async () => {
    const { namespace, store } = await populated()
    store.count({ hits: 4, misses: 3 })
    await store.close()
    const table = await cli('stats', '--url', redis.url, '--namespace', namespace)
    assert.equal(table.code, 0, table.stderr)
    const rows = Object.fromEntries(table.stdout.trimEnd().split('\n').map((line) => line.split(/\s+/)))
    assert.deepEqual(Object.keys(rows), ['entries', 'bytes', 'hits', 'misses', 'revalidations', 'staleServed', 'errors'])
    assert.ok(Object.values(rows).every((value) => /^\d+$/.test(String(value))), table.stdout)
    assert.equal(rows['entries'], '3')
    assert.ok(Number(rows['bytes']) > 0)
    assert.ok(Number(rows['hits']) >= 4 && Number(rows['misses']) >= 3, table.stdout)

    const json = await cli('stats', '--json', '--url', redis.url, '--namespace', namespace)
    assert.equal(json.code, 0, json.stderr)
    const stats = JSON.parse(json.stdout) as Record<string, unknown>
    assert.equal(stats['entries'], 3)
    assert.equal(stats['bytes'], Number(rows['bytes']))
  })

  it('purge --url-match removes exactly that entry', async () => {
    const { namespace, store } = await populated()
    const run = await cli('purge', '--url-match', `${origin.url}/two?x=1`, '--url', redis.url, '--namespace', namespace)
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout.trim(), 'deleted 1')
    assert.deepEqual((await collect(store.entries())).map((entry) => entry.url).sort(), [`${origin.url}/one`, `${origin.url}/stale`])
  })

  it('purge --expired removes the stale entries of a store kept without TTL', async () => {
    const { namespace, store } = await populated({ ttl: false })
    const run = await cli('purge', '--expired', '--json', '--url', redis.url, '--namespace', namespace)
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(JSON.parse(run.stdout), { deleted: 1 })
    assert.deepEqual((await collect(store.entries())).map((entry) => entry.url).sort(), [`${origin.url}/one`, `${origin.url}/two?x=1`])
  })

  it('purge --all empties the namespace and leaves other keys alone', async () => {
    const { namespace } = await populated()
    await redis.cli('SET', `foreign-${namespace}`, 'keep')
    await redis.cli('SET', `${namespace}2:{ab}`, 'keep')
    const run = await cli('purge', '--all', '--url', redis.url, '--namespace', namespace)
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout.trim(), `cleared namespace ${namespace}`)
    assert.equal(await redis.cli('EVAL', `return #redis.call('KEYS', '${namespace}:*')`, '0'), '0')
    assert.equal(await redis.cli('GET', `foreign-${namespace}`), 'keep')
    assert.equal(await redis.cli('GET', `${namespace}2:{ab}`), 'keep')
  })

  const badUsage: [name: string, args: string[]][] = [
    ['no command', []],
    ['an unknown command', ['flush']],
    ['--help', ['--help']],
    ['purge without a flag', ['purge']],
    ['purge with two flags', ['purge', '--all', '--expired']],
    ['purge --url-match with a relative URL', ['purge', '--url-match', '/one']],
    ['--limit 0', ['list', '--limit', '0']],
    ['--limit on stats', ['stats', '--limit', '3']],
    ['an unknown option', ['list', '--verbose']],
    ['an invalid namespace', ['stats', '--namespace', 'a{b']],
  ]
  for (const [name, args] of badUsage) {
    it(`exits 2 with usage on stderr for ${name}`, async () => {
      const run = await cli(...args)
      assert.equal(run.code, 2, run.stderr)
      assert.equal(run.stdout, '')
      assert.match(run.stderr, /usage: undici-redis-cache|expected option `namespace`/)
    })
  }

  it('exits 1 with a clear message within seconds when Redis is unreachable', async () => {
    const port = await freePort()
    const run = await cli('stats', '--url', `redis://127.0.0.1:${port}`)
    assert.equal(run.code, 1, run.stderr)
    assert.match(run.stderr, new RegExp(`stats on redis://127\\.0\\.0\\.1:${port} failed: .*ECONNREFUSED`))
    assert.ok(run.ms < 10_000, `took ${run.ms} ms`)
  })
})
