/**
 * One measurement in a fresh process, so its peak RSS belongs to one contender alone:
 *
 *   node --expose-gc --import tsx bench/lib/worker.ts <contender> <size> <concurrency> '<WorkerEnvironment JSON>'
 *
 * Prime (the entry is stored and the next request is a hit), force a GC and take the baseline RSS, warm
 * up at full concurrency, then measure for a fixed time with `concurrency` loops each awaiting one hit at
 * a time. Sends a WorkerResult over IPC (or prints it when run by hand) and exits.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createContender } from './contenders.js'
import { CONTENDERS, type ContenderId, type WorkerEnvironment, type WorkerMessage, type WorkerResult } from './protocol.js'
import { percentile, Samples } from './stats.js'

/** A contender failing every request would otherwise spin for the whole duration. */
const MAX_ERRORS = 1000

interface Run {
  readonly samples: Samples
  readonly elapsedMs: number
  readonly errors: number
  readonly firstError: string | undefined
}

async function drive(hit: () => Promise<number>, size: number, concurrency: number, seconds: number): Promise<Run> {
  const samples = new Samples()
  let errors = 0
  let firstError: string | undefined
  const start = performance.now()
  const end = start + seconds * 1000
  const loop = async (): Promise<void> => {
    while (performance.now() < end && errors < MAX_ERRORS) {
      const sent = performance.now()
      try {
        const bytes = await hit()
        if (bytes !== size) throw new Error(`read ${bytes} body bytes, expected ${size}`)
        samples.push(performance.now() - sent)
      } catch (error) {
        errors++
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop))
  return { samples, elapsedMs: performance.now() - start, errors, firstError }
}

/** Profiles the measured phase only: start-up, module loading and priming stay out of the profile. */
async function startProfiler(): Promise<Session> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return session
}

async function stopProfiler(session: Session, file: string): Promise<void> {
  const { profile } = await session.post('Profiler.stop')
  session.disconnect()
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, JSON.stringify(profile))
}

async function main(): Promise<void> {
  const [contenderArg, sizeArg, concurrencyArg, envArg] = process.argv.slice(2)
  const id = contenderArg as ContenderId
  const size = Number(sizeArg)
  const concurrency = Number(concurrencyArg)
  if (!CONTENDERS.includes(id) || !Number.isInteger(size) || !Number.isInteger(concurrency) || envArg === undefined) {
    throw new Error(`usage: worker.ts <${CONTENDERS.join('|')}> <size> <concurrency> '<environment JSON>'`)
  }
  const env = JSON.parse(envArg) as WorkerEnvironment
  const contender = await createContender(id, size, env)

  const primingRequests = await contender.prime()
  globalThis.gc?.()
  await new Promise((resolve) => setImmediate(resolve))
  const baselineRssKiB = Math.round(process.memoryUsage().rss / 1024)

  await drive(contender.hit, size, concurrency, env.warmupSeconds)
  const originBefore = await contender.originCount?.()
  const profiler = env.profileDir === undefined ? undefined : await startProfiler()
  const run = await drive(contender.hit, size, concurrency, env.seconds)
  if (profiler !== undefined && env.profileDir !== undefined) {
    await stopProfiler(profiler, join(env.profileDir, `${id}-${size}-c${concurrency}-${env.run}.cpuprofile`))
  }
  const originAfter = await contender.originCount?.()
  const peakRssKiB = process.resourceUsage().maxRSS

  const sorted = run.samples.sorted()
  const result: WorkerResult = {
    contender: id,
    size,
    concurrency,
    completed: sorted.length,
    elapsedMs: run.elapsedMs,
    hitsPerSecond: sorted.length / (run.elapsedMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    baselineRssKiB,
    peakRssKiB,
    rssRiseKiB: peakRssKiB - baselineRssKiB,
    originRequests: originBefore === undefined || originAfter === undefined ? 0 : originAfter - originBefore,
    primingRequests,
    errors: run.errors,
    ...(run.firstError === undefined ? {} : { firstError: run.firstError }),
    cacheErrors: contender.cacheErrors.count,
    ...(contender.cacheErrors.first === undefined ? {} : { firstCacheError: contender.cacheErrors.first }),
  }
  await contender.close()

  if (process.send === undefined) {
    console.log(JSON.stringify(result, null, 2))
    return
  }
  const message: WorkerMessage = { type: 'result', result }
  await new Promise<void>((resolve, reject) => process.send?.(message, undefined, {}, (error) => (error ? reject(error) : resolve())))
}

// The orchestrator went away: stop at once rather than keep loading the machine.
process.on('disconnect', () => process.exit(1))

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error)
    process.exit(1)
  },
)
