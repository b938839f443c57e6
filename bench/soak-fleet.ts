/**
 * Multi-process soak of RedisStore's local tier (issue 16): WORKERS processes (bench/soak-fleet-worker.ts),
 * each REQUESTS_PER_WORKER operations over URL_COUNT URLs through cache() on a RedisStore with
 * `localCache`, 2 % of them invalidations (store.delete, store.deleteTags, a POST through the cache),
 * with Redis killed (SIGKILL) once mid-run and restarted a second later.
 *
 *   npm run soak:fleet        (npx tsx bench/soak-fleet.ts)
 *
 * Starts its own redis-server on a free port (never 6379) and the origin, in this process. The origin
 * numbers every response it sends (serial, in `x-serial`, stored and replayed with the entry) and keeps
 * a version per URL: it bumps a URL when asked before a delete or tag delete, when it receives a POST
 * for it, and every 100 ms one URL in turn (so entries also go out of date without any invalidation).
 * A body is `<path> v<version>` plus a digest of both, so it is exactly what one URL and version give.
 *
 * What counts as a failure:
 * - failed request: an error, a timeout or a status other than 200 (a store call failing under an
 *   invalidation while Redis is away is no failed request: that invalidation is not confirmed);
 * - wrong body: a body that is not exactly its URL's body at the version it claims, or whose `x-serial`
 *   names another URL or version;
 * - stale-after-invalidation: let I be a confirmed invalidation of URL u (its store call succeeded; for
 *   a POST, the cache's deletion of u really ran and succeeded), the origin having bumped u to version V
 *   before I began. A response for u whose request started more than BOUND_MS after I ended, with a
 *   version older than V, is stale-after-invalidation, unless the stored response it replays may have
 *   been written after I began: a fill that fetched the old version before the bump and wrote it after
 *   the deletion (the cache-aside race every shared cache has; no tier can tell it from a fresh write).
 *   That is judged by when Redis acknowledged the write holding its serial (seen by the worker that wrote
 *   it): acknowledged before I began, the entry was in Redis when I deleted u, so serving it is stale.
 *   For a write never acknowledged (its reply lost to the outage or a timeout), the origin's send time
 *   stands in: more than UNACKED_RACE_MS before I began counts as removed by I. Such race survivors are
 *   reported apart, as are old versions served within BOUND_MS (with the longest such lag).
 *
 * Exits 1 on any failure, fewer operations than planned, or a run over RUN_LIMIT_MS. With
 * SOAK_FLEET_FAKE_DELETES=1 the workers' deletes and tag deletes do nothing yet count as confirmed:
 * the run must then fail with stale-after-invalidation responses (a check of the check).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { startRedis } from '../test/helpers/redis-server.js'
import {
  bodyOf,
  BOUND_MS,
  COMMAND_TIMEOUT_MS,
  CONCURRENCY,
  MAX_AGE_S,
  now,
  REQUESTS_PER_WORKER,
  serialField,
  TIER_BYTES,
  UNACKED_RACE_MS,
  URL_COUNT,
  WORKERS,
  tagOf,
  type FromWorker,
  type Invalidation,
  type WorkerReport,
} from './soak-fleet-common.js'

const WORKER = fileURLToPath(new URL('./soak-fleet-worker.ts', import.meta.url))
const KILL_AFTER_MS = 13_000
const OUTAGE_MS = 1000
const BUMP_EVERY_MS = 100
const READY_LIMIT_MS = 30_000
const RUN_LIMIT_MS = 150_000

const versions: number[] = Array.from({ length: URL_COUNT }, () => 1)
/** By serial: [url index, version, when sent]. */
const sent: [number, number, number][] = []

function originHandler(req: IncomingMessage, res: ServerResponse): void {
  req.resume()
  const url = new URL(req.url ?? '/', 'http://origin')
  const match = /^\/item\/(\d+)$/.exec(url.pathname)
  const index = match === null ? -1 : Number(match[1])
  const answer = (status: number, text: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }
  if (req.method === 'POST' && url.pathname === '/__bump') {
    const indexes = (url.searchParams.get('i') ?? '').split(',').map(Number)
    return answer(200, JSON.stringify(indexes.map((i) => ++versions[i]!)), { 'cache-control': 'no-store' })
  }
  if (index < 0 || index >= URL_COUNT) return answer(404, '')
  // A write to the resource: its version moves before the answer, so before the cache invalidates.
  if (req.method === 'POST') return answer(200, String(++versions[index]!), { 'cache-control': 'no-store' })
  const version = versions[index]!
  const serial = sent.push([index, version, now()]) - 1
  const body = bodyOf(index, version)
  res.writeHead(200, { 'cache-control': `max-age=${MAX_AGE_S}`, 'cache-tag': tagOf(index), 'x-serial': serialField(serial), 'content-length': body.byteLength })
  res.end(body)
}

interface Analysis {
  stale: number
  raced: number
  withinBound: number
  maxLag: number
  mismatched: number
  readonly racedFills: Set<number>
  readonly examples: string[]
}

/** Applies the definitions above to every response of `report`, against every worker's invalidations and acks. */
function analyse(report: WorkerReport, byUrl: Map<number, Invalidation[]>, acks: Map<number, number>): Analysis {
  const out: Analysis = { stale: 0, raced: 0, withinBound: 0, maxLag: 0, mismatched: 0, racedFills: new Set(), examples: [] }
  for (const [index, version, serial, startedAt] of report.responses) {
    const origin = sent[serial]
    if (origin === undefined || origin[0] !== index || origin[1] !== version) {
      out.mismatched++
      if (out.examples.length < 10) out.examples.push(`${report.name}: /item/${index} v${version} with x-serial ${serial} (${JSON.stringify(origin)})`)
      continue
    }
    const older = (byUrl.get(index) ?? []).filter((inv) => inv.endedAt < startedAt && inv.version > version)
    if (older.length === 0) continue
    const ack = acks.get(serial)
    // The invalidations that certainly removed the entry this response replays.
    const removedBy = older.filter((inv) => (ack !== undefined ? ack < inv.startedAt : origin[2] < inv.startedAt - UNACKED_RACE_MS))
    if (removedBy.length === 0) {
      out.raced++
      out.racedFills.add(serial)
      continue
    }
    const lag = startedAt - Math.min(...removedBy.map((inv) => inv.endedAt))
    if (lag <= BOUND_MS) {
      out.withinBound++
      out.maxLag = Math.max(out.maxLag, lag)
      continue
    }
    out.stale++
    if (out.examples.length < 10) {
      const first = removedBy.find((inv) => inv.endedAt === startedAt - lag)!
      out.examples.push(`${report.name}: /item/${index} v${version} (serial ${serial}) asked for ${lag.toFixed(0)} ms after a ${first.kind} to v${first.version} ended`)
    }
  }
  return out
}

function startWorker(redisUrl: string, origin: string, name: string, seed: number): { child: ChildProcess; ready: Promise<void>; done: Promise<WorkerReport> } {
  const child = fork(WORKER, [redisUrl, origin, name, String(seed)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let signalReady: () => void = () => {}
  let signalDone: (report: WorkerReport) => void = () => {}
  const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`worker ${name} exited with ${code ?? signal}`))))
  exited.catch(() => {})
  child.on('message', (message: FromWorker) => (message.type === 'ready' ? signalReady() : signalDone(message)))
  return {
    child,
    ready: Promise.race([new Promise<void>((resolve) => (signalReady = resolve)), exited]),
    done: Promise.race([new Promise<WorkerReport>((resolve) => (signalDone = resolve)), exited]),
  }
}

function timeout(ms: number, what: string): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined
  const promise = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms)))
  return { promise, cancel: () => clearTimeout(timer) }
}

async function main(): Promise<number> {
  const started = now()
  const redis = await startRedis()
  const server = createServer(originHandler)
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  let turn = 0
  const bumper = setInterval(() => void versions[turn++ % URL_COUNT]!++, BUMP_EVERY_MS)
  const workers = Array.from({ length: WORKERS }, (_, i) => startWorker(redis.url, origin, `w${i}`, 1000 + i))
  const limit = timeout(RUN_LIMIT_MS, 'the run')
  const outage: { killedAt?: number; restartedAt?: number } = {}
  let reports: WorkerReport[] = []
  let aborted: string | undefined
  let goAt = 0
  try {
    const readiness = timeout(READY_LIMIT_MS, 'worker start-up')
    await Promise.race([Promise.all(workers.map((w) => w.ready)), readiness.promise]).finally(readiness.cancel)
    goAt = now() + 100
    for (const w of workers) w.child.send({ type: 'go', at: goAt })
    const outageRun = new Promise<void>((resolve) => setTimeout(resolve, KILL_AFTER_MS)).then(async () => {
      await redis.kill()
      outage.killedAt = now()
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS))
      await redis.restart()
      outage.restartedAt = now()
    })
    reports = await Promise.race([Promise.all(workers.map((w) => w.done)), limit.promise])
    await outageRun
  } catch (error) {
    aborted = error instanceof Error ? error.message : String(error)
  } finally {
    limit.cancel()
    clearInterval(bumper)
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL')
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await redis.stop()
  }
  return report(reports, outage, goAt, now() - started, aborted)
}

function report(reports: WorkerReport[], outage: { killedAt?: number; restartedAt?: number }, goAt: number, elapsedMs: number, aborted: string | undefined): number {
  const all = reports.flatMap((r) => r.invalidations)
  const confirmed = all.filter((inv) => inv.confirmed)
  const unconfirmed = all.filter((inv) => !inv.confirmed)
  const byUrl = new Map<number, Invalidation[]>()
  for (const inv of confirmed) byUrl.set(inv.index, [...(byUrl.get(inv.index) ?? []), inv])
  const acks = new Map<number, number>()
  // The last acknowledgement of a serial: any write of it after an invalidation began may have outlived it.
  for (const r of reports) for (const [serial, at] of r.acks) acks.set(serial, Math.max(acks.get(serial) ?? -Infinity, at))
  const since = (t: number | undefined): string => (t === undefined ? 'never' : `${((t - goAt) / 1000).toFixed(1)} s`)
  const lines = [
    `soak-fleet: ${WORKERS} workers × ${REQUESTS_PER_WORKER} operations in ${(elapsedMs / 1000).toFixed(1)} s (${URL_COUNT} URLs, concurrency ${CONCURRENCY} per worker, commandTimeout ${COMMAND_TIMEOUT_MS} ms, localCache ${TIER_BYTES / 2 ** 20} MiB, max-age ${MAX_AGE_S} s)`,
    `  Redis killed (SIGKILL) at ${since(outage.killedAt)}, restarted at ${since(outage.restartedAt)}`,
    '  worker  ops     GETs   inval  failed  wrong  stale  raced  cache hit %  tier hits  tier misses  drops',
  ]
  const totals = { failed: 0, wrong: 0, stale: 0, raced: 0, withinBound: 0, maxLag: 0, ops: 0 }
  const examples: string[] = []
  const racedFills = new Set<number>()
  for (const r of reports) {
    const a = analyse(r, byUrl, acks)
    const cached = r.responses.filter((response) => response[5] === 1).length
    const wrong = r.wrongBodies + a.mismatched
    totals.failed += r.failed
    totals.wrong += wrong
    totals.stale += a.stale
    totals.raced += a.raced
    for (const serial of a.racedFills) racedFills.add(serial)
    totals.withinBound += a.withinBound
    totals.maxLag = Math.max(totals.maxLag, a.maxLag)
    totals.ops += r.operations
    examples.push(...r.failures, ...a.examples)
    const cells = [r.name, r.operations, r.responses.length, r.operations - r.responses.length - r.failed, r.failed, wrong, a.stale, a.raced, ((100 * cached) / Math.max(1, r.responses.length)).toFixed(1), r.tier?.hits ?? '-', r.tier?.misses ?? '-', r.tier?.drops ?? '-']
    const widths = [6, 7, 6, 6, 7, 6, 6, 6, 12, 10, 12, 5]
    lines.push(`  ${cells.map((cell, i) => String(cell).padEnd(widths[i]!)).join(' ')}`)
  }
  const kinds = (list: Invalidation[]): string => ['delete', 'tags', 'post'].map((kind) => `${kind} ${list.filter((inv) => inv.kind === kind).length}`).join(', ')
  lines.push(
    `  invalidations (per URL): ${confirmed.length} confirmed (${kinds(confirmed)}), ${unconfirmed.length} not confirmed (${kinds(unconfirmed)}${unconfirmed.length === 0 ? '' : `, begun between ${since(Math.min(...unconfirmed.map((inv) => inv.startedAt)))} and ${since(Math.max(...unconfirmed.map((inv) => inv.startedAt)))}`})`,
    `  stale-after-invalidation (asked for > ${BOUND_MS} ms after a confirmed invalidation ended, older version): ${totals.stale}`,
    `  older version within ${BOUND_MS} ms of an invalidation: ${totals.withinBound} responses, latest asked for ${totals.maxLag.toFixed(1)} ms after it ended`,
    `  responses replaying a fill that raced an invalidation (fetched before the bump, written after the deletion began): ${totals.raced}, from ${racedFills.size} fills`,
    `  event loop delay per worker (p99 / max ms): ${reports.map((r) => `${r.name} ${r.loopDelay.p99.toFixed(0)} / ${r.loopDelay.max.toFixed(0)}`).join(', ')}`,
    `  onError: ${reports.map((r) => `${r.name} {${Object.entries(r.onError).map(([code, n]) => `${code} × ${n}`).join(', ')}}`).join('  ')}`,
  )
  for (const r of reports) for (const sample of r.errorSamples) lines.push(`  ${r.name} at ${sample}`)
  // Not failures of the tier: the cache fails open, and skips a §4.4 deletion while its breaker is open.
  const skipped = unconfirmed.filter((inv) => inv.unconfirmed === 'skipped')
  if (skipped.length > 0) {
    const bySkipped = new Map<number, Invalidation[]>()
    for (const inv of skipped) bySkipped.set(inv.index, [...(bySkipped.get(inv.index) ?? []), inv])
    const after = reports.reduce((sum, r) => sum + analyse(r, bySkipped, acks).stale, 0)
    lines.push(
      `  POSTs whose §4.4 deletion the cache skipped (breaker open, fail-open): ${skipped.length}, at ${skipped.map((inv) => since(inv.startedAt)).join(', ')};`,
      `    older versions served > ${BOUND_MS} ms after such a POST ended: ${after} (not counted above)`,
    )
  }
  if (aborted !== undefined) lines.push(`  ABORTED: ${aborted}`)
  for (const example of examples.slice(0, 30)) lines.push(`  ! ${example}`)
  console.log(lines.join('\n'))
  const ok = aborted === undefined && totals.ops === WORKERS * REQUESTS_PER_WORKER && totals.failed === 0 && totals.wrong === 0 && totals.stale === 0
  return ok ? 0 : 1
}

main().then(
  (code) => {
    process.exitCode = code
    setTimeout(() => process.exit(code), 2000).unref()
  },
  (error: unknown) => {
    console.error('soak-fleet: could not run:', error)
    process.exit(1)
  },
)
