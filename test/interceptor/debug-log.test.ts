/**
 * Issue 11: the README says `NODE_DEBUG=undici-redis-cache` logs each hit, miss, revalidation and store.
 * It does, one line per event with the redacted URL, in a child process (util.debuglog reads NODE_DEBUG
 * once, at startup). Without NODE_DEBUG nothing listens, so no event message is ever built.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { channels, debug } from '../../lib/diagnostics.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const url = (path: string): string => pathToFileURL(resolve(ROOT, path)).href

/**
 * The child: an origin, a cache with `ignoredParameters: ['api_key']`, and a miss (stored), a hit, a
 * miss of a response that must be revalidated (stored), and its revalidation by a 304 (stored again).
 */
const CHILD = `
import { createServer } from 'node:http'
import diagnostics from 'node:diagnostics_channel'
const { cache, MemoryStore } = await import(${JSON.stringify(url('lib/index.ts'))})
const { Agent, request } = await import(${JSON.stringify(url('test/helpers/undici.ts'))})
const secret = process.argv.at(-1)
const server = createServer((req, res) => {
  if (req.headers['if-none-match'] === '"v1"') {
    res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=0' })
    return res.end()
  }
  const validated = req.url.startsWith('/validated')
  res.writeHead(200, { etag: '"v1"', 'cache-control': validated ? 'max-age=0' : 'max-age=60', 'content-length': 2 })
  res.end('ok')
})
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const origin = 'http://127.0.0.1:' + server.address().port
let stores = 0
diagnostics.subscribe('undici-redis-cache:cache:store', () => void stores++)
const stored = async (n) => { while (stores < n) await new Promise((resolve) => setTimeout(resolve, 5)) }
const agent = new Agent()
const dispatcher = agent.compose(cache({ store: new MemoryStore(), ignoredParameters: ['api_key'] }))
const get = async (path) => (await request(origin + path, { dispatcher })).body.text()
await get('/data?q=1&api_key=' + secret)
await stored(1)
await get('/data?q=1&api_key=' + secret)
await get('/validated?api_key=' + secret)
await stored(2)
await get('/validated?api_key=' + secret)
await stored(3)
await agent.close()
server.close()
console.log(JSON.stringify({ origin }))
`

function runChild(env: NodeJS.ProcessEnv, secret: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD, secret], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    // tsx's start-up alone can take seconds on a loaded 2-core machine: a bound for a hang, not a speed.
    const timer = setTimeout(() => child.kill(), 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolvePromise({ stdout, stderr, code })
    })
  })
}

describe('NODE_DEBUG=undici-redis-cache', () => {
  it('logs one line per miss, store, hit and revalidation, with the redacted URL', async function () {
    this.timeout(40_000)
    const secret = `SECRET${randomBytes(8).toString('hex')}`
    const { stdout, stderr, code } = await runChild({ ...process.env, NODE_DEBUG: 'undici-redis-cache' }, secret)
    assert.equal(code, 0, stderr)
    const { origin } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { origin: string }
    const lines = stderr.split('\n').filter((line) => /^UNDICI-REDIS-CACHE \d+: /.test(line)).map((line) => line.replace(/^UNDICI-REDIS-CACHE \d+: /, '').replace(/ id=[0-9a-f.]+$/, ''))
    assert.deepEqual(lines, [
      `miss ${origin}/data?q=1 miss`,
      `store ${origin}/data?q=1 2 bytes`,
      `hit ${origin}/data?q=1 fresh`,
      `miss ${origin}/validated miss`,
      `store ${origin}/validated 2 bytes`,
      `revalidate ${origin}/validated 304`,
      `store ${origin}/validated 2 bytes`,
    ])
    assert.equal(stderr.includes(secret), false, stderr)
  })

  it('without it, nothing listens to the event channels (no message is built per request)', function () {
    if (debug.enabled) this.skip()
    for (const name of ['hit', 'miss', 'revalidate', 'stale', 'store'] as const) assert.equal(channels[name].hasSubscribers, false, name)
  })
})
