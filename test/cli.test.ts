/**
 * The operator CLI (issue 4), run in-process through main(argv, io) against a throwaway Redis filled
 * through the real interceptor; one test spawns the bin shim itself.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { main } from '../lib/cli/main.js'
import { RedisStore } from '../lib/stores/redis-store.js'
import { cachedAgent, eventually, send } from './helpers/client.js'
import { startOrigin, type Origin } from './helpers/origin.js'
import { freePort, type RedisServer } from './helpers/redis-server.js'
import { releaseRedis, useRedis } from './helpers/stores.js'
import { collect } from './stores/store-contract.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
/** Bound on the spawned run: tsx start-up plus the CLI's own 3 s connect timeout, with room. */
const SPAWN_TIMEOUT_MS = 20_000
/** Over the 256 KiB a body may keep inside its entry (entry.ts INLINE_BODY_LIMIT): stored apart. */
const BIG_BODY = randomBytes(300 * 1024)

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/** One CLI run in this process; REDIS_URL points at the fixture so that no run can reach a developer's Redis on 6379. */
async function cli(...args: string[]): Promise<Run> {
  const started = Date.now()
  const stdout = collector()
  const stderr = collector()
  const code = await main(args, { stdout, stderr, env: { REDIS_URL: redis.url } })
  return { code, stdout: stdout.text, stderr: stderr.text, ms: Date.now() - started }
}

function collector(): { text: string; write(chunk: string): boolean } {
  return {
    text: '',
    write(chunk) {
      this.text += chunk
      return true
    },
  }
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
    if (req.url === '/vary') {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' })
      return res.end(`in ${req.headers['accept-language']}`)
    }
    if (req.url === '/big') {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': BIG_BODY.byteLength })
      return res.end(BIG_BODY)
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

/** The requests populated() sends by default: three plain responses, one stale on arrival. */
const PLAIN: readonly (readonly [path: string, language?: string])[] = [['/one'], ['/two?x=1'], ['/stale']]

/** A fresh namespace holding the responses to `requests`, cached through the interceptor. */
async function populated(options: { ttl?: boolean } = {}, requests = PLAIN): Promise<{ namespace: string; store: RedisStore }> {
  const namespace = `cli-${randomBytes(4).toString('hex')}`
  const store = new RedisStore({ url: redis.url, namespace, ...options })
  open.push(store)
  await store.ready()
  const { dispatcher, close } = cachedAgent({ store })
  try {
    for (const [path, language] of requests) {
      await send(dispatcher, `${origin.url}${path}`, language === undefined ? {} : { headers: { 'accept-language': language } })
    }
    await eventually(async () => (await collect(store.keys())).length === requests.length)
  } finally {
    await close()
  }
  return { namespace, store }
}

async function statsJson(namespace: string): Promise<Record<string, number>> {
  const run = await cli('stats', '--json', '--namespace', namespace)
  assert.equal(run.code, 0, run.stderr)
  return JSON.parse(run.stdout) as Record<string, number>
}

describe('undici-redis-cache CLI', function () {
  this.timeout(10_000)

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
    const run = await cli('list', '--json', '--namespace', namespace)
    assert.equal(run.code, 0, run.stderr)
    const listed = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    const expected = JSON.parse(JSON.stringify(await collect(store.entries()))) as Record<string, unknown>[]
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>): number => String(a['id']).localeCompare(String(b['id']))
    assert.deepEqual(listed.sort(byId), expected.sort(byId))

    const limited = await cli('list', '--limit', '2', '--namespace', namespace)
    assert.equal(limited.code, 0, limited.stderr)
    assert.equal(limited.stdout.trimEnd().split('\n').length, 2)
  })

  it('prints stats as a table and as JSON', async () => {
    const { namespace, store } = await populated()
    store.count({ hits: 4, misses: 3 })
    await store.close()
    const table = await cli('stats', '--namespace', namespace)
    assert.equal(table.code, 0, table.stderr)
    const rows = Object.fromEntries(table.stdout.trimEnd().split('\n').map((line) => line.split(/\s+/)))
    assert.deepEqual(Object.keys(rows), ['entries', 'bytes', 'hits', 'misses', 'revalidations', 'staleServed', 'errors', 'writes', 'deletes'])
    assert.ok(Object.values(rows).every((value) => /^\d+$/.test(String(value))), table.stdout)
    assert.equal(rows['entries'], '3')
    assert.ok(Number(rows['bytes']) > 0)
    assert.ok(Number(rows['hits']) >= 4 && Number(rows['misses']) >= 3, table.stdout)

    const stats = await statsJson(namespace)
    assert.equal(stats['entries'], 3)
    assert.equal(stats['bytes'], Number(rows['bytes']))
  })

  it('stats counts the writes and deletes of every process, and its entries agree with list', async () => {
    // A Vary response (two variants and their pointer) and a body stored apart (two values).
    const { namespace, store } = await populated({}, [...PLAIN, ['/vary', 'en'], ['/vary', 'fr'], ['/big']])
    const written = await store.stats()
    await store.close()
    assert.ok(written.writes > 6, `writes ${written.writes}: each variant, the pointer and the big body count`)

    // A fresh main() sees only what the stats hash and the namespace hold.
    const before = await statsJson(namespace)
    assert.equal(before['writes'], written.writes)
    const listed = (await cli('list', '--namespace', namespace)).stdout.trimEnd().split('\n')
    assert.equal(before['entries'], listed.length)
    assert.equal(before['entries'], 6)
    assert.ok(listed.some((line) => line.split('\t')[2] === `${origin.url}/big` && Number(line.split('\t')[3]) > BIG_BODY.byteLength), 'the big response is listed with its body')

    const purged = await cli('purge', '--url-match', `${origin.url}/vary`, '--namespace', namespace)
    assert.equal(purged.stdout, 'deleted 2\n', purged.stderr)
    const after = await statsJson(namespace)
    // Two variants and their pointer.
    assert.equal(after['deletes'], before['deletes']! + 3)
    assert.equal(after['entries'], 4)
    assert.equal(after['entries'], (await cli('list', '--namespace', namespace)).stdout.trimEnd().split('\n').length)
  })

  it('purge --url-match removes exactly that entry', async () => {
    const { namespace, store } = await populated()
    const run = await cli('purge', '--url-match', `${origin.url}/two?x=1`, '--namespace', namespace)
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout.trim(), 'deleted 1')
    assert.deepEqual((await collect(store.entries())).map((entry) => entry.url).sort(), [`${origin.url}/one`, `${origin.url}/stale`])
  })

  it('purge --expired removes the stale entries of a store kept without TTL', async () => {
    const { namespace, store } = await populated({ ttl: false })
    const run = await cli('purge', '--expired', '--json', '--namespace', namespace)
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(JSON.parse(run.stdout), { deleted: 1 })
    assert.deepEqual((await collect(store.entries())).map((entry) => entry.url).sort(), [`${origin.url}/one`, `${origin.url}/two?x=1`])
  })

  it('purge --all empties the namespace and leaves other keys alone', async () => {
    const { namespace } = await populated()
    await redis.cli('SET', `foreign-${namespace}`, 'keep')
    await redis.cli('SET', `${namespace}2:{ab}`, 'keep')
    const run = await cli('purge', '--all', '--namespace', namespace)
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout.trim(), `cleared namespace ${namespace}`)
    assert.equal(await redis.cli('EVAL', `return #redis.call('KEYS', '${namespace}:*')`, '0'), '0')
    assert.equal(await redis.cli('GET', `foreign-${namespace}`), 'keep')
    assert.equal(await redis.cli('GET', `${namespace}2:{ab}`), 'keep')
  })

  for (const args of [['--help'], ['-h'], ['purge', '--help']]) {
    it(`prints the usage to stdout and exits 0 for ${args.join(' ')}`, async () => {
      const run = await cli(...args)
      assert.deepEqual([run.code, run.stderr], [0, ''])
      assert.match(run.stdout, /^usage: undici-redis-cache <command>/)
      assert.match(run.stdout, /--version/)
    })
  }

  for (const flag of ['--version', '-v']) {
    it(`prints the package version for ${flag}`, async () => {
      assert.deepEqual(await cli(flag).then(({ code, stdout, stderr }) => ({ code, stdout, stderr })), { code: 0, stdout: `${VERSION}\n`, stderr: '' })
    })
  }

  const badUsage: [name: string, args: string[], message?: RegExp][] = [
    ['no command', []],
    ['an unknown command', ['flush']],
    ['purge without a flag', ['purge']],
    ['purge with two flags', ['purge', '--all', '--expired']],
    ['purge --url-match with a relative URL', ['purge', '--url-match', '/one'], /absolute http:\/\/ or https:\/\/ URL/],
    ['purge --url-match with a wildcard', ['purge', '--url-match', 'https://example.com/api/*'], /wildcards \(\*\) are not supported/],
    ['purge --url-match with a non-http URL', ['purge', '--url-match', 'ftp://example.com/file'], /got a ftp: URL/],
    ['--limit 0', ['list', '--limit', '0']],
    ['--limit on stats', ['stats', '--limit', '3']],
    ['an unknown option', ['list', '--verbose']],
    ['an invalid namespace', ['stats', '--namespace', 'a{b'], /expected option `namespace`/],
  ]
  for (const [name, args, message = /usage: undici-redis-cache/] of badUsage) {
    it(`exits 2 with the reason on stderr for ${name}`, async () => {
      const run = await cli(...args)
      assert.equal(run.code, 2, run.stderr)
      assert.equal(run.stdout, '')
      assert.match(run.stderr, message)
    })
  }

  it('exits 1 with a clear message once its connect timeout passes when Redis is unreachable', async () => {
    const port = await freePort()
    const stdout = collector()
    const stderr = collector()
    const started = Date.now()
    const code = await main(['stats', '--url', `redis://127.0.0.1:${port}`], { stdout, stderr, env: {}, connectTimeoutMs: 200 })
    const ms = Date.now() - started
    assert.equal(code, 1, stderr.text)
    assert.match(stderr.text, new RegExp(`stats on redis://127\\.0\\.0\\.1:${port} failed: .*ECONNREFUSED`))
    assert.ok(ms >= 190 && ms < 2000, `took ${ms} ms`)
  })

  it('runs as the bin shim: argv, REDIS_URL, stdout and the exit code', async function () {
    this.timeout(SPAWN_TIMEOUT_MS + 5000)
    const { namespace } = await populated()
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'lib/cli.ts', 'stats', '--json', '--namespace', namespace],
        { cwd: ROOT, timeout: SPAWN_TIMEOUT_MS, env: { ...process.env, REDIS_URL: redis.url } },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
      )
    })
    assert.equal(run.code, 0, run.stderr)
    assert.equal((JSON.parse(run.stdout) as Record<string, unknown>)['entries'], 3)
  })
})
