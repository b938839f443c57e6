/**
 * `npm run bench`: hits per second, latency and peak RSS of a cache hit for eight contenders, side by side
 * in one run (issues 6 and 16). Not a test: it prints numbers and asserts nothing. It starts its own
 * origin and redis-server, runs every measurement in a fresh process, and leaves nothing running when
 * it ends. The contenders (bench/lib/contenders.ts):
 *   a  undici          undici with no cache, against the local origin
 *   b  undici-cache    undici's interceptors.cache() with its MemoryCacheStore
 *   c  memory          cache() + MemoryStore
 *   d  redis           cache() + RedisStore
 *   e  floor           a bare node-redis GET of the same bytes
 *   f  redis-local     cache() + RedisStore with localCache (its in-process tier)
 *   g  platformatic    undici's interceptors.cache() + platformatic's undici-cache-redis store, with
 *                      its tracking cache (Redis client-side caching)
 *   h  pair            c's hit, then e's GET, one after the other: the serial limit, measured
 * Then the goals of issue 16 per (size, concurrency) cell (bench/lib/goals.ts): d against the serial
 * limit 1 / (1/c + 1/e) (and, for information, against h), f against c and g, and the peak RSS each
 * concurrent 10 MiB hit adds.
 *
 * Environment (all optional):
 *   BENCH_REPEAT=2            runs per cell, interleaved across contenders; the best by hits/s is shown
 *   BENCH_SECONDS=3           measured seconds per run
 *   BENCH_WARMUP_SECONDS=1    warm-up seconds per run, after priming
 *   BENCH_SIZES=1k,64k,1m,10m body sizes
 *   BENCH_CONCURRENCY=1,32    concurrent request loops
 *   BENCH_CONTENDERS=a,b,c,d,e,f,g,h  or undici,undici-cache,memory,redis,floor,redis-local,platformatic,pair
 *   BENCH_KEY_COUNTS=0,10000,100000  unrelated Redis keys for the key-count scenario (redis and floor
 *                            only); "none" skips it
 *   BENCH_INVALIDATION=none  skips the invalidation bench (bench/invalidation.ts, about 10 s, its own
 *                            redis-server; BENCH_INVALIDATION_KEYS and _RUNS tune it)
 *   BENCH_PIN=1              pin the client and the servers to separate CPUs (see lib/children.ts)
 *   BENCH_MALLOC=system      leave glibc's allocator defaults in the workers (see lib/children.ts)
 *   BENCH_PROFILE=1           each worker writes a CPU profile of its measured phase to .bench/profiles/
 *
 * Writes .bench/results.json and .bench/results.md (the README table).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, release, totalmem, type as osType } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nativeAcceleration } from '../lib/codec/plain-cbor.js'
import { startRedis, type RedisServer } from '../test/helpers/redis-server.js'
import { invalidationBench } from './invalidation.js'
import { allocator, killChildren, pin, pinning, runWorker, startOrigin, type OriginProcess } from './lib/children.js'
import { goalMarkdown, goals, goalText } from './lib/goals.js'
import {
  CONTENDER_LETTERS,
  CONTENDERS,
  KiB,
  MiB,
  UNRELATED_PREFIX,
  type ContenderId,
  type Outcome,
  type WorkerEnvironment,
} from './lib/protocol.js'
import {
  combine,
  groupTable,
  keyCountTable,
  machineLines,
  markdown,
  type Cell,
  type GroupResult,
  type KeyCountResult,
  type Machine,
  type Settings,
} from './lib/report.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const OUT_DIR = join(ROOT, '.bench')
const KEY_COUNT_SIZE = 1 * KiB
const KEY_COUNT_CONCURRENCY = 32
const KEY_COUNT_CONTENDERS: readonly ContenderId[] = ['redis', 'floor']

function numberList(name: string, fallback: readonly number[], parse: (text: string) => number): readonly number[] {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  if (raw.trim() === 'none') return []
  const values = raw.split(',').map((part) => parse(part.trim()))
  for (const value of values) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`${name}: expected a comma-separated list of sizes or counts, got ${JSON.stringify(raw)}`)
  }
  return values
}

function parseSize(text: string): number {
  const match = /^(\d+)\s*([kmg]?)i?b?$/i.exec(text)
  if (match === null) return Number.NaN
  const unit = { '': 1, k: KiB, m: MiB, g: 1024 * MiB }[(match[2] ?? '').toLowerCase()] ?? Number.NaN
  return Number(match[1]) * unit
}

function positive(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!(value > 0)) throw new Error(`${name}: expected a positive number of seconds, got ${JSON.stringify(raw)}`)
  return value
}

function contenderList(): readonly ContenderId[] {
  const raw = process.env['BENCH_CONTENDERS']
  if (raw === undefined || raw.trim() === '') return CONTENDERS
  const picked = new Set(
    raw.split(',').map((part) => {
      const name = part.trim()
      const id = CONTENDER_LETTERS[name] ?? name
      if (!(CONTENDERS as readonly string[]).includes(id)) throw new Error(`BENCH_CONTENDERS: unknown contender ${JSON.stringify(name)}`)
      return id as ContenderId
    }),
  )
  return CONTENDERS.filter((id) => picked.has(id))
}

function readSettings(): Settings {
  const repeat = positive('BENCH_REPEAT', 2)
  if (!Number.isInteger(repeat)) throw new Error(`BENCH_REPEAT: expected a positive integer, got ${repeat}`)
  return {
    repeat,
    seconds: positive('BENCH_SECONDS', 3),
    warmupSeconds: positive('BENCH_WARMUP_SECONDS', 1),
    sizes: numberList('BENCH_SIZES', [1 * KiB, 64 * KiB, 1 * MiB, 10 * MiB], parseSize),
    concurrencies: numberList('BENCH_CONCURRENCY', [1, 32], Number).filter((c) => c > 0),
    contenders: contenderList(),
    keyCounts: numberList('BENCH_KEY_COUNTS', [0, 10_000, 100_000], Number),
  }
}

async function machineInfo(redis: RedisServer): Promise<Machine> {
  const info = await redis.cli('INFO', 'server')
  const undici = JSON.parse(readFileSync(join(ROOT, 'node_modules/undici/package.json'), 'utf8')) as { version: string }
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus().length,
    memoryGiB: totalmem() / (1024 * MiB),
    os: `${osType()} ${release()}`,
    node: process.version,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    undici: undici.version,
    cborNative: nativeAcceleration,
    allocator: allocator.label,
    pinning: pinning === undefined ? 'none' : `client on CPU ${pinning.client}; origin, redis-server and orchestrator on CPU ${pinning.servers}`,
  }
}

async function main(): Promise<void> {
  const settings = readSettings()
  const started = Date.now()
  const profileDir = process.env['BENCH_PROFILE'] === '1' ? join(OUT_DIR, 'profiles') : undefined
  let origin: OriginProcess | undefined
  let redis: RedisServer | undefined

  const cleanUp = async (): Promise<void> => {
    killChildren()
    await origin?.stop()
    await redis?.stop()
  }
  const interrupt = (): void => {
    void cleanUp().finally(() => process.exit(130))
  }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  // Whatever happens, no worker or origin outlives the bench (redis-server.ts kills its own on exit).
  process.once('exit', killChildren)

  try {
    origin = await startOrigin()
    redis = await startRedis()
    pin(process.pid, 'servers')
    pin(Number(/process_id:(\d+)/.exec(await redis.cli('INFO', 'server'))?.[1]), 'servers')
    const machine = await machineInfo(redis)
    console.log(machineLines(machine, settings).join('\n'))
    console.log()

    let runs = 0
    const measure = async (id: ContenderId, size: number, concurrency: number): Promise<Outcome> => {
      const env: WorkerEnvironment = {
        originUrl: (origin as OriginProcess).url,
        redisUrl: (redis as RedisServer).url,
        seconds: settings.seconds,
        warmupSeconds: settings.warmupSeconds,
        run: `${process.pid}-${++runs}`,
        ...(profileDir === undefined ? {} : { profileDir }),
      }
      return runWorker(id, size, concurrency, env)
    }

    // Rounds interleave the contenders, so a slow spell of the machine hits all of them alike.
    const measureAll = async (ids: readonly ContenderId[], size: number, concurrency: number, repeat = settings.repeat): Promise<Map<ContenderId, Cell>> => {
      const outcomes = new Map<ContenderId, Outcome[]>(ids.map((id) => [id, []]))
      for (let round = 0; round < repeat; round++) {
        for (const id of ids) outcomes.get(id)?.push(await measure(id, size, concurrency))
      }
      return new Map(ids.map((id) => [id, combine(outcomes.get(id) ?? [])]))
    }

    const groups: GroupResult[] = []
    for (const size of settings.sizes) {
      for (const concurrency of settings.concurrencies) {
        const cells = await measureAll(settings.contenders, size, concurrency)
        const group = { size, concurrency, cells }
        groups.push(group)
        console.log(groupTable(group, settings.contenders))
        console.log()
      }
    }

    const keyCounts: KeyCountResult[] = []
    const keyContenders = settings.contenders.filter((id) => KEY_COUNT_CONTENDERS.includes(id))
    if (keyContenders.length > 0) {
      for (const unrelated of settings.keyCounts) {
        // DEBUG POPULATE skips names that exist, so raising the count adds only the missing keys.
        if (unrelated > 0) await redis.cli('DEBUG', 'POPULATE', String(unrelated), UNRELATED_PREFIX)
        const dbsize = Number(await redis.cli('DBSIZE'))
        // One more round than the main tables: this scenario compares a cell with itself, so noise matters more.
        const cells = await measureAll(keyContenders, KEY_COUNT_SIZE, KEY_COUNT_CONCURRENCY, settings.repeat + 1)
        keyCounts.push({ unrelated, dbsize, cells })
      }
      if (keyCounts.length > 0) {
        console.log(keyCountTable(keyCounts, keyContenders, KEY_COUNT_SIZE, KEY_COUNT_CONCURRENCY))
        console.log()
      }
    }

    // On a redis-server of its own: the million keys it adds must not weigh on the tables above.
    const invalidation = process.env['BENCH_INVALIDATION'] === 'none' ? [] : await invalidationBench()
    if (invalidation.length > 0) console.log(`${invalidation.join('\n')}\n`)

    const goalReport = goals(groups, keyCounts, settings)
    console.log('Goals (issue 16)')
    console.log(goalText(goalReport).join('\n'))

    mkdirSync(OUT_DIR, { recursive: true })
    const json = {
      machine,
      settings,
      groups: groups.map((g) => ({ ...g, cells: Object.fromEntries(g.cells) })),
      keyCounts: keyCounts.map((k) => ({ ...k, cells: Object.fromEntries(k.cells) })),
      goals: goalReport,
      invalidation,
    }
    writeFileSync(join(OUT_DIR, 'results.json'), `${JSON.stringify(json, null, 2)}\n`)
    writeFileSync(join(OUT_DIR, 'results.md'), markdown(machine, settings, groups, keyCounts, KEY_COUNT_SIZE, KEY_COUNT_CONCURRENCY, goalMarkdown(goalReport)))
    console.log(`\nwrote .bench/results.json and .bench/results.md in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  } finally {
    await cleanUp()
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error)
    process.exit(1)
  },
)
