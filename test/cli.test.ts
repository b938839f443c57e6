/**
 * The operator CLI (issue 4), run in-process through main(argv, io) against a throwaway Redis filled
 * through the real interceptor; one test spawns the bin shim itself.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { clusterUrls, parseAge, parseCommand, USAGE, UsageError, type Parsed } from '../lib/cli/args.js'
import { main } from '../lib/cli/main.js'
import { INLINE_BODY_LIMIT } from '../lib/entry.js'
import type { CacheOptions } from '../lib/index.js'
import { RedisStore } from '../lib/stores/redis-store.js'
import { cachedAgent, eventually, send } from './helpers/client.js'
import { ManualClock } from './helpers/clock.js'
import { startOrigin, type Origin } from './helpers/origin.js'
import { freePort, startRedis, type RedisServer } from './helpers/redis-server.js'
import { releaseRedis, useRedis } from './helpers/stores.js'
import { collect } from './stores/store-contract.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
/** Bound on the spawned run: tsx start-up plus the store's 5 s wait for a first connect, with room. */
const SPAWN_TIMEOUT_MS = 20_000
/** Over what a body may keep inside its entry (entry.ts INLINE_BODY_LIMIT): stored apart. */
const BIG_BODY = randomBytes(INLINE_BODY_LIMIT + 44 * 1024)

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
    // /users/N and /teams/N carry their cache tags, for purge --tag.
    const tagged = /^\/(user|team)s\/(\d+)/.exec(req.url ?? '')
    res.writeHead(200, { 'cache-control': 'max-age=60', ...(tagged === null ? {} : { 'cache-tag': `${tagged[1]}:${tagged[2]} all` }) })
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

/**
 * A fresh namespace (or `namespace`, adding to it) holding the responses to `requests`, cached through
 * the interceptor with `cacheOptions`.
 */
async function populated(options: { ttl?: boolean } = {}, requests = PLAIN, cacheOptions: CacheOptions = {}, namespace = `cli-${randomBytes(4).toString('hex')}`): Promise<{ namespace: string; store: RedisStore }> {
  const store = new RedisStore({ url: redis.url, namespace, ...options })
  open.push(store)
  await store.ready()
  const already = (await collect(store.keys())).length
  const { dispatcher, close } = cachedAgent({ store, ...cacheOptions })
  try {
    for (const [path, language] of requests) {
      await send(dispatcher, `${origin.url}${path}`, language === undefined ? {} : { headers: { 'accept-language': language } })
    }
    await eventually(async () => (await collect(store.keys())).length === already + requests.length)
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

  /** Users 1 and 2 (one with a query), team 1, and an untagged URL, stored with the Cache-Tag field read. */
  const TAGGED: readonly (readonly [path: string])[] = [['/users/1'], ['/users/2?x=1'], ['/teams/1'], ['/one']]
  const tagged = (): Promise<{ namespace: string; store: RedisStore }> => populated({}, TAGGED, { tagsHeader: 'cache-tag' })
  const urls = async (store: RedisStore): Promise<string[]> => (await collect(store.entries())).map((entry) => entry.url).sort()

  it('purge --tag removes the entries filed under any of the repeated tags', async () => {
    const { namespace, store } = await tagged()
    const run = await cli('purge', '--tag', 'user:1', '--tag', 'team:1', '--tag', 'never-stored', '--namespace', namespace)
    assert.deepEqual([run.code, run.stdout, run.stderr], [0, 'deleted 2\n', ''])
    assert.deepEqual(await urls(store), [`${origin.url}/one`, `${origin.url}/users/2?x=1`])
    const json = await cli('purge', '--tag', 'all', '--json', '--namespace', namespace)
    assert.deepEqual([json.code, json.stdout], [0, '{"deleted":1}\n'])
    assert.deepEqual(await urls(store), [`${origin.url}/one`])
  })

  it('purge --prefix removes every URL under the prefix, query or not, and keeps the rest', async () => {
    const { namespace, store } = await tagged()
    const run = await cli('purge', '--prefix', `${origin.url}/users/`, '--namespace', namespace)
    assert.deepEqual([run.code, run.stdout, run.stderr], [0, 'deleted 2\n', ''])
    assert.deepEqual(await urls(store), [`${origin.url}/one`, `${origin.url}/teams/1`])
    const json = await cli('purge', '--prefix', `${origin.url}/users/`, '--json', '--namespace', namespace)
    assert.deepEqual([json.code, json.stdout], [0, '{"deleted":0}\n'])
  })

  it('purge --older-than removes only the entries received longer ago than the age', async () => {
    // Stored an hour ago by a cache whose clock says so, then two more now.
    const { namespace, store } = await populated({}, [['/one']], { clock: new ManualClock(Date.now() - 3_600_000) })
    await populated({}, [['/two?x=1'], ['/users/1']], {}, namespace)
    const none = await cli('purge', '--older-than', '2h', '--namespace', namespace)
    assert.deepEqual([none.code, none.stdout, none.stderr], [0, 'deleted 0\n', ''])
    const run = await cli('purge', '--older-than', '30m', '--json', '--namespace', namespace)
    assert.deepEqual([run.code, run.stdout, run.stderr], [0, '{"deleted":1}\n', ''])
    assert.deepEqual(await urls(store), [`${origin.url}/two?x=1`, `${origin.url}/users/1`])
  })

  it('purge --url-match removes the URL in every method, or in one with --method', async () => {
    const post = { methods: ['GET', 'HEAD', 'POST'] } satisfies CacheOptions
    const namespace = `cli-${randomBytes(4).toString('hex')}`
    const store = new RedisStore({ url: redis.url, namespace })
    open.push(store)
    const { dispatcher, close } = cachedAgent({ store, ...post })
    const target = `${origin.url}/both`
    const methods = async (): Promise<string[]> => (await collect(store.entries())).filter((entry) => entry.url === target).map((entry) => entry.method).sort()
    try {
      // The POST first: as an unsafe method it invalidates the GET entry it would otherwise share a URL with.
      const stored = async (): Promise<void> => {
        await send(dispatcher, target, { method: 'POST', body: '{"q":1}', headers: { 'content-type': 'application/json' } })
        await send(dispatcher, target)
        await eventually(async () => (await methods()).length === 2).catch(async () => {
          assert.fail(`the GET and the POST are both stored: held ${JSON.stringify(await methods())}`)
        })
      }
      await stored()
      assert.deepEqual(await methods(), ['GET', 'POST'])
      const one = await cli('purge', '--url-match', target, '--method', 'post', '--namespace', namespace)
      assert.deepEqual([one.code, one.stdout, one.stderr], [0, 'deleted 1\n', ''])
      assert.deepEqual(await methods(), ['GET'])
      await stored()
      const every = await cli('purge', '--url-match', target, '--json', '--namespace', namespace)
      assert.deepEqual([every.code, every.stdout, every.stderr], [0, '{"deleted":2}\n', ''])
      assert.deepEqual(await methods(), [])
    } finally {
      await close()
    }
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
    ['purge --tag and --prefix', ['purge', '--tag', 'a', '--prefix', 'https://example.com/'], /exactly one of/],
    ['purge --older-than with a bad age', ['purge', '--older-than', '1w'], /--older-than takes an age such as 90s/],
    ['purge --prefix with a wildcard', ['purge', '--prefix', 'https://example.com/api/*'], /wildcards \(\*\) are not supported/],
    ['purge --method without --url-match', ['purge', '--tag', 'a', '--method', 'GET'], /--method goes with --url-match/],
    ['--tag on list', ['list', '--tag', 'a'], /--tag does not apply to list/],
    ['--timeout 0', ['stats', '--timeout', '0'], /--timeout takes a positive number of milliseconds/],
    ['--timeout 5s', ['stats', '--timeout', '5s'], /--timeout takes a positive number of milliseconds/],
  ]
  for (const [name, args, message = /usage: undici-redis-cache/] of badUsage) {
    it(`exits 2 with the reason on stderr for ${name}`, async () => {
      const run = await cli(...args)
      assert.equal(run.code, 2, run.stderr)
      assert.equal(run.stdout, '')
      assert.match(run.stderr, message)
    })
  }

  it('exits 1 at once, naming the refusal, when nothing listens at the URL', async () => {
    const port = await freePort()
    const stdout = collector()
    const stderr = collector()
    const started = Date.now()
    // A --timeout far above the store's 5 s wait for a first connect: only failing on the refusal itself ends sooner.
    const code = await main(['stats', '--url', `redis://127.0.0.1:${port}`, '--timeout', '60000'], { stdout, stderr, env: {} })
    const ms = Date.now() - started
    assert.equal(code, 1, stderr.text)
    assert.match(stderr.text, new RegExp(`stats on redis://127\\.0\\.0\\.1:${port} failed: .*ECONNREFUSED`))
    assert.ok(ms < 2000, `took ${ms} ms`)
  })

  it('exits 1 naming --timeout when the host takes the connection and never answers', async () => {
    // A listener that accepts and stays silent: node-redis's handshake (or first command) never gets a reply.
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => void sockets.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as AddressInfo
    const stdout = collector()
    const stderr = collector()
    try {
      const code = await main(['list', '--url', `redis://127.0.0.1:${port}`, '--timeout', '300'], { stdout, stderr, env: {} })
      assert.equal(code, 1, stderr.text)
      assert.match(stderr.text, /list on redis:\/\/127\.0\.0\.1:\d+ failed: .*did not answer within 300 ms/)
      assert.equal(stdout.text, '')
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  it('exits 1 naming the timeout when Redis stops answering, --timeout after the round trip left', async function () {
    this.timeout(10_000)
    const own = await startRedis()
    const stdout = collector()
    const stderr = collector()
    try {
      // Writes wait (the connection handshake and the walk's reads still go through): purge's UNLINK hangs.
      await own.cli('CLIENT', 'PAUSE', '10000', 'WRITE')
      const code = await main(['purge', '--all', '--url', own.url, '--timeout', '300'], { stdout, stderr, env: {} })
      assert.equal(code, 1, stderr.text)
      assert.match(stderr.text, /purge on redis:\/\/127\.0\.0\.1:\d+ failed: cache store clear did not answer within 300 ms/)
    } finally {
      await own.cli('CLIENT', 'UNPAUSE')
      await own.stop()
    }
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

describe('undici-redis-cache CLI: purge arguments', () => {
  function values(argv: readonly string[]): Extract<Parsed, { kind: 'run' }>['values'] {
    const parsed = parseCommand(argv)
    assert.equal(parsed.kind, 'run')
    return (parsed as Extract<Parsed, { kind: 'run' }>).values
  }

  function refused(argv: readonly string[], message: RegExp): void {
    assert.throws(() => parseCommand(argv), (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error))
      assert.match(error.message, message)
      return true
    })
  }

  it('--tag repeats, in the order given', () => {
    assert.deepEqual(values(['purge', '--tag', 'user:42', '--tag', 'team:7', '--tag=post:1']).tag, ['user:42', 'team:7', 'post:1'])
    assert.deepEqual(values(['purge', '--tag', 'user:42']).tag, ['user:42'])
  })

  it('accepts each purge target alone', () => {
    for (const argv of [
      ['purge', '--all'],
      ['purge', '--expired'],
      ['purge', '--url-match', 'https://example.com/a'],
      ['purge', '--url-match', 'https://example.com/a', '--method', 'POST'],
      ['purge', '--prefix', 'https://example.com/users/'],
      ['purge', '--prefix', 'http://example.com'],
      ['purge', '--tag', 'a'],
      ['purge', '--older-than', '7d'],
    ]) {
      assert.equal(parseCommand(argv).kind, 'run', argv.join(' '))
    }
  })

  const exactlyOne = /purge takes exactly one of --all, --expired, --url-match <url>, --prefix <url>, --tag <tag>, --older-than <age>/
  const twoTargets: string[][] = [
    ['--prefix', 'https://example.com/', '--tag', 'a'],
    ['--tag', 'a', '--older-than', '1h'],
    ['--url-match', 'https://example.com/a', '--prefix', 'https://example.com/'],
    ['--all', '--tag', 'a'],
    ['--expired', '--older-than', '1h'],
    ['--all', '--prefix', 'https://example.com/'],
  ]
  for (const targets of twoTargets) {
    it(`refuses two targets: ${targets.filter((arg) => arg.startsWith('--')).join(' ')}`, () => refused(['purge', ...targets], exactlyOne))
  }
  it('refuses purge without a target', () => refused(['purge'], exactlyOne))
  it('refuses --method without a target', () => refused(['purge', '--method', 'GET'], exactlyOne))

  for (const target of [['--all'], ['--expired'], ['--prefix', 'https://example.com/'], ['--tag', 'a'], ['--older-than', '1h']]) {
    it(`refuses --method with ${target[0]}`, () => refused(['purge', ...target, '--method', 'GET'], /--method goes with --url-match/))
  }

  for (const command of ['stats', 'list']) {
    for (const [flag, value] of [['--prefix', 'https://example.com/'], ['--tag', 'a'], ['--older-than', '1h'], ['--method', 'GET']] as const) {
      it(`refuses ${flag} on ${command}`, () => refused([command, flag, value], new RegExp(`${flag} does not apply to ${command}`)))
    }
  }

  const badPrefixes: [name: string, value: string, message: RegExp][] = [
    ['a wildcard', 'https://example.com/users/*', /--prefix takes one absolute http:\/\/ or https:\/\/ URL; wildcards \(\*\) are not supported: use --prefix for every URL under a path/],
    ['a wildcard host', 'https://*.example.com/', /wildcards/],
    ['a relative URL', '/users/', /--prefix takes one absolute http:\/\/ or https:\/\/ URL; got "\/users\/"/],
    ['a host without a scheme', 'example.com/users/', /--prefix takes one absolute/],
    ['a non-http URL', 'ftp://example.com/users/', /got a ftp: URL/],
  ]
  for (const [name, value, message] of badPrefixes) {
    it(`refuses --prefix with ${name}`, () => refused(['purge', '--prefix', value], message))
  }

  it('refuses a negative --older-than', () => {
    refused(['purge', '--older-than=-5'], /--older-than takes an age such as 90s, 30m, 1h or 7d; got "-5"/)
    refused(['purge', '--older-than=-5s'], /--older-than takes an age/)
    // Spelt apart, a value starting with a dash reads as an option: parseArgs refuses it first.
    refused(['purge', '--older-than', '-5'], /argument is ambiguous/)
  })

  it('refuses an empty --tag, and --tag without a value', () => {
    refused(['purge', '--tag', ''], /--tag takes a non-empty tag/)
    refused(['purge', '--tag', 'a', '--tag', ''], /--tag takes a non-empty tag/)
    refused(['purge', '--tag'], /argument missing/)
  })

  for (const age of ['', 'abc', '1w', '1h30m', '5 m', '1e3', 'Infinity', 'NaN', '.5h', '5.h', 's', '0x10', '1H']) {
    it(`refuses --older-than ${JSON.stringify(age)}`, () => refused(['purge', '--older-than', age], /--older-than takes an age such as 90s, 30m, 1h or 7d/))
  }

  const ages: [value: string, seconds: number][] = [
    ['90s', 90],
    ['30m', 1800],
    ['1h', 3600],
    ['7d', 604_800],
    ['45', 45],
    ['0', 0],
    ['1.5h', 5400],
    ['0.5m', 30],
    [' 2d ', 172_800],
  ]
  for (const [value, seconds] of ages) {
    it(`parseAge(${JSON.stringify(value)}) is ${seconds} s`, () => assert.equal(parseAge(value), seconds))
  }
})

describe('undici-redis-cache CLI: --cluster arguments', () => {
  const refused = (argv: readonly string[], message: RegExp): void => {
    assert.throws(() => parseCommand(argv), (error: unknown) => error instanceof UsageError && message.test(error.message))
  }

  it('takes one node URL or a comma-separated list, on every command', () => {
    for (const argv of [['stats', '--cluster', 'redis://10.0.0.1:6379'], ['list', '--cluster', 'redis://a:1, rediss://b:2'], ['purge', '--all', '--cluster', 'redis://a:1']]) {
      const parsed = parseCommand(argv)
      assert.equal(parsed.kind, 'run', argv.join(' '))
    }
    assert.deepEqual(clusterUrls('redis://a:1, rediss://:pw@b:2'), ['redis://a:1', 'rediss://:pw@b:2'])
  })

  it('refuses --cluster with --url, and a node that is not a redis:// or rediss:// URL', () => {
    refused(['stats', '--url', 'redis://a:1', '--cluster', 'redis://b:2'], /--url and --cluster exclude each other/)
    refused(['stats', '--cluster', 'redis://a:1,'], /--cluster takes comma-separated redis:\/\/ or rediss:\/\/ URLs; got ""/)
    refused(['stats', '--cluster', 'http://a:1'], /--cluster takes comma-separated/)
  })

  it('documents --cluster in the usage', () => {
    assert.match(USAGE, /--cluster <url>\[,<url>\.\.\.\]/)
  })
})
