/**
 * Soak test (issue 5): 10,000 requests over ~200 URLs through the cache on a real Redis that is killed
 * (SIGKILL) and restarted twice mid-run. Every response must be a 200 whose body is exactly the one
 * its URL produces; a cache failure may cost speed, never a request or a byte.
 *
 *   npx tsx bench/soak.ts
 *
 * Starts its own redis-server on a free port and a local origin, stops both at the end, and exits
 * with code 1 on any failed request, wrong body, or a run that did not finish within the time limit.
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Agent, request, type Dispatcher } from 'undici'
import { cache, RedisStore, type CacheError } from '../lib/index.js'
import { startRedis, type RedisServer } from '../test/helpers/redis-server.js'

const URL_COUNT = 200
const TOTAL_REQUESTS = 10_000
const CONCURRENCY = 16
/**
 * Requests started per second at most. Paced so the run lasts about 25 s: long enough after each
 * outage for the circuit breaker's cooldown to end and caching to come back, which the report shows.
 */
const RATE_PER_SECOND = 400
const RUN_LIMIT_MS = 120_000
const REQUEST_TIMEOUT_MS = 10_000
const COMMAND_TIMEOUT_MS = 100
/** Fractions of the requests after which Redis is killed, and how long it stays down each time. */
const OUTAGES_AT = [0.3, 0.65]
const OUTAGE_MS = 1000
/** Each URL's representation changes this often, so revalidation sees both 304s and new bodies. */
const VERSION_PERIOD_MS = 5000
const MIN_BODY = 100
const MAX_BODY = 64 * 1024

const started = Date.now()
const currentVersion = (): number => 1 + Math.floor((Date.now() - started) / VERSION_PERIOD_MS)

/** Deterministic per URL, spread between MIN_BODY and MAX_BODY. */
function sizeOf(index: number): number {
  return MIN_BODY + ((index * 7919 + 13) % (MAX_BODY - MIN_BODY + 1))
}

/** `<path> v<version>\n` then sha256(path#version) in hex, repeated to the URL's size. */
function bodyOf(index: number, version: number): Buffer {
  const path = pathOf(index)
  const head = `${path} v${version}\n`
  const digest = createHash('sha256').update(`${path}#${version}`).digest('hex')
  const size = sizeOf(index)
  const out = Buffer.alloc(size, digest)
  out.write(head, 0, 'latin1')
  return out
}

function pathOf(index: number): string {
  return `/item/${index}`
}

/** Whether `body` is exactly what the origin sends for `index` at some version it has served. */
function isRightBody(index: number, body: Buffer): boolean {
  const newline = body.indexOf(0x0a)
  if (newline < 0) return false
  const match = /^(\/item\/\d+) v(\d+)$/.exec(body.subarray(0, newline).toString('latin1'))
  if (match === null || match[1] !== pathOf(index)) return false
  const version = Number(match[2])
  return version >= 1 && version <= currentVersion() && body.equals(bodyOf(index, version))
}

function originHandler(req: IncomingMessage, res: ServerResponse): void {
  req.resume()
  const match = /^\/item\/(\d+)$/.exec(req.url ?? '')
  const index = match === null ? -1 : Number(match[1])
  if (index < 0 || index >= URL_COUNT) {
    res.writeHead(404, { 'content-length': 0 })
    return void res.end()
  }
  const version = currentVersion()
  const headers: Record<string, string | number> = { 'cache-control': 'max-age=2', 'content-type': 'application/octet-stream' }
  // A third of the URLs carry a validator, so stale entries are revalidated (If-None-Match → 304).
  if (index % 3 === 0) {
    const etag = `"${index}-v${version}"`
    headers['etag'] = etag
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers)
      return void res.end()
    }
  }
  const body = bodyOf(index, version)
  headers['content-length'] = body.byteLength
  res.writeHead(200, headers)
  res.end(body)
}

interface Outage {
  readonly at: number
  killedAt?: number
  restartedAt?: number
  /** First hit after the restart: when caching had recovered. */
  firstHitAt?: number | undefined
}

interface Tally {
  completed: number
  failed: number
  wrongBodies: number
  hits: number
  misses: number
  revalidated: number
  other: number
  readonly latencies: number[]
  readonly failures: string[]
}

async function main(): Promise<number> {
  const redis = await startRedis()
  const origin = createServer(originHandler)
  origin.keepAliveTimeout = 5000
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`

  const store = new RedisStore({ url: redis.url })
  const reported = new Map<string, number>()
  const onError = (error: CacheError): void => void reported.set(error.code, (reported.get(error.code) ?? 0) + 1)
  const agent = new Agent({ connections: CONCURRENCY * 2, keepAliveTimeout: 5000 })
  const dispatcher = agent.compose(cache({ store, commandTimeout: COMMAND_TIMEOUT_MS, onError }))

  const tally: Tally = { completed: 0, failed: 0, wrongBodies: 0, hits: 0, misses: 0, revalidated: 0, other: 0, latencies: [], failures: [] }
  const outages: Outage[] = OUTAGES_AT.map((at) => ({ at }))
  const outageRuns: Promise<void>[] = []
  const stop = new AbortController()
  const limit = setTimeout(() => stop.abort(new Error(`run limit of ${RUN_LIMIT_MS} ms reached`)), RUN_LIMIT_MS)
  let issued = 0
  let timedOut = false

  try {
    await store.ready(5000)
    const runStart = Date.now()
    const worker = async (): Promise<void> => {
      while (issued < TOTAL_REQUESTS && !stop.signal.aborted) {
        const n = issued++
        const slot = runStart + (n * 1000) / RATE_PER_SECOND
        if (slot > Date.now()) await new Promise((resolve) => setTimeout(resolve, slot - Date.now()))
        // Spread over all URLs, but not in order, so neighbours in time hit different entries.
        const index = (n * 37) % URL_COUNT
        await one(dispatcher, base, index, tally, stop.signal)
        for (const outage of outages) {
          if (outage.killedAt === undefined && tally.completed >= outage.at * TOTAL_REQUESTS) {
            outage.killedAt = Date.now()
            outageRuns.push(runOutage(redis, outage))
          }
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    await Promise.all(outageRuns)
    timedOut = stop.signal.aborted
  } finally {
    clearTimeout(limit)
    await agent.close().catch(() => {})
    await store.close().catch(() => {})
    await new Promise<void>((resolve) => {
      origin.closeAllConnections()
      origin.close(() => resolve())
    })
    await redis.stop()
  }

  for (const outage of outages) {
    if (outage.restartedAt === undefined) continue
    // The first hit logged after the restart.
    outage.firstHitAt = hitTimes.find((t) => t >= outage.restartedAt!)
  }
  report(tally, outages, reported, Date.now() - started, timedOut)
  const ok = !timedOut && tally.completed === TOTAL_REQUESTS && tally.failed === 0 && tally.wrongBodies === 0
  return ok ? 0 : 1
}

/** Times of hits, in order, to tell when caching recovered after each outage. */
const hitTimes: number[] = []
/** Per second of the run: [hits, responses]. */
const timeline: [number, number][] = []

function count(hit: boolean): void {
  const second = Math.floor((Date.now() - started) / 1000)
  while (timeline.length <= second) timeline.push([0, 0])
  const bucket = timeline[second]!
  bucket[1]++
  if (hit) bucket[0]++
}

async function one(dispatcher: Dispatcher, base: string, index: number, tally: Tally, stop: AbortSignal): Promise<void> {
  const t0 = performance.now()
  try {
    const signal = AbortSignal.any([stop, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
    const res = await request(`${base}${pathOf(index)}`, { dispatcher, signal })
    const body = Buffer.from(await res.body.arrayBuffer())
    tally.latencies.push(performance.now() - t0)
    const status = String(res.headers['cache-status'] ?? '')
    count(/; hit;/.test(status))
    if (/; hit;/.test(status)) {
      tally.hits++
      hitTimes.push(Date.now())
    } else if (/; fwd=miss/.test(status)) tally.misses++
    else if (/fwd=stale|fwd-status=304/.test(status)) tally.revalidated++
    else tally.other++
    if (res.statusCode !== 200) {
      tally.failed++
      note(tally, `${pathOf(index)}: status ${res.statusCode} (${status})`)
    } else if (!isRightBody(index, body)) {
      tally.wrongBodies++
      note(tally, `${pathOf(index)}: wrong body of ${body.byteLength} bytes starting ${JSON.stringify(body.subarray(0, 24).toString('latin1'))} (${status})`)
    }
  } catch (error) {
    tally.latencies.push(performance.now() - t0)
    tally.failed++
    note(tally, `${pathOf(index)}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`)
  } finally {
    tally.completed++
  }
}

function note(tally: Tally, line: string): void {
  if (tally.failures.length < 20) tally.failures.push(line)
}

async function runOutage(redis: RedisServer, outage: Outage): Promise<void> {
  await redis.kill()
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS))
  await redis.restart()
  outage.restartedAt = Date.now()
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

function report(tally: Tally, outages: readonly Outage[], reported: ReadonlyMap<string, number>, elapsedMs: number, timedOut: boolean): void {
  const sorted = [...tally.latencies].sort((a, b) => a - b)
  const lines = [
    `soak: ${tally.completed} of ${TOTAL_REQUESTS} requests in ${(elapsedMs / 1000).toFixed(1)} s (${URL_COUNT} URLs, concurrency ${CONCURRENCY}, commandTimeout ${COMMAND_TIMEOUT_MS} ms)`,
    `  failed requests: ${tally.failed}`,
    `  wrong bodies:    ${tally.wrongBodies}`,
    `  hits: ${tally.hits}   misses: ${tally.misses}   revalidated: ${tally.revalidated}   other: ${tally.other}`,
    `  latency p50: ${percentile(sorted, 50).toFixed(2)} ms   p99: ${percentile(sorted, 99).toFixed(2)} ms   max: ${(sorted.at(-1) ?? NaN).toFixed(2)} ms`,
  ]
  for (const [i, outage] of outages.entries()) {
    if (outage.killedAt === undefined) {
      lines.push(`  outage ${i + 1} (at ${outage.at * 100}%): not reached`)
      continue
    }
    const down = outage.restartedAt === undefined ? 'never restarted' : `Redis down ${outage.restartedAt - outage.killedAt} ms`
    const recovered = outage.firstHitAt === undefined || outage.restartedAt === undefined ? 'no hit after restart' : `first hit ${outage.firstHitAt - outage.restartedAt} ms after restart`
    lines.push(`  outage ${i + 1} (at ${outage.at * 100}%): ${down}, ${recovered}`)
  }
  lines.push(`  hit % per second: ${timeline.map(([hits, all]) => (all === 0 ? '-' : Math.round((100 * hits) / all))).join(' ')}`)
  lines.push(`  onError (rate-limited): ${[...reported].map(([code, count]) => `${code} × ${count}`).join(', ') || 'none'}`)
  if (timedOut) lines.push(`  ABORTED: the run limit of ${RUN_LIMIT_MS / 1000} s was reached`)
  for (const failure of tally.failures) lines.push(`  ! ${failure}`)
  console.log(lines.join('\n'))
}

main().then(
  (code) => {
    process.exitCode = code
    // Everything was closed; should a handle still be open, do not hang the bench run over it.
    setTimeout(() => process.exit(code), 2000).unref()
  },
  (error: unknown) => {
    console.error('soak: could not run:', error)
    process.exit(1)
  },
)
