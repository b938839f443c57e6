/**
 * Invalidation at fleet scale (issue 14): what `store.delete(url)` and `store.deleteTags([tag])` cost
 * on a RedisStore, with an empty Redis and with a million unrelated keys in it. Each removes one URL's
 * or one tag's 10 entries through the indexes, so its time and its Redis command count should not
 * move with the key count; the namespace walk (SCAN, what delete() did before the indexes) is shown
 * for contrast. Not a test: it prints numbers, asserting only that each delete found its 10 entries.
 *
 *   npx tsx bench/invalidation.ts      (npm run bench runs it too, after the hit tables)
 *
 * Environment (optional):
 *   BENCH_INVALIDATION_KEYS=1000000   unrelated keys of the second column (DEBUG POPULATE), half of
 *                                     them under the store's namespace, half outside
 *   BENCH_INVALIDATION_RUNS=25        runs per cell; the median is shown
 *
 * Starts its own redis-server on a free port and stops it at the end, also on failure.
 */
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { encodeRecord } from '../lib/codec/frame.js'
import { RedisStore } from '../lib/index.js'
import { startRedis, type RedisServer } from '../test/helpers/redis-server.js'
import { UNRELATED_PREFIX } from './lib/protocol.js'

const NAMESPACE = 'bench_invalidation'
const ENTRIES = 10
/** Redis commands the bench itself sends around a measurement (redis-cli), left out of the counts. */
const OWN_COMMANDS = new Set(['config', 'info', 'command'])

interface Cell {
  readonly ms: number
  readonly commands: number
}

interface Row {
  readonly name: string
  readonly cells: readonly Cell[]
}

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(raw)}`)
  return value
}

/** A stored response as the cache writes it, indexed under `url` and `tag`. */
function entry(url: string, tag: string, partition: number): { id: string; value: Uint8Array; ttlMs: number; index: { url: string; tags: string[]; storedAt: number } } {
  const now = Date.now()
  const value = encodeRecord({
    kind: 'entry', key: JSON.stringify([url, partition]), url, method: 'GET', status: 200, statusText: 'OK', headers: {},
    vary: undefined, requestTime: now, responseTime: now, initialAge: 0, lifetime: 600, body: new TextEncoder().encode('body'),
  })
  // The same ids every run, spread over the age buckets as the cache's key hashes are.
  const id = createHash('sha256').update(`${url} ${partition}`).digest('hex').slice(0, 32)
  return { id, value, ttlMs: 600_000, index: { url, tags: [tag], storedAt: now } }
}

/** Commands Redis ran since the last CONFIG RESETSTAT, the bench's own left out. */
async function commandCount(redis: RedisServer): Promise<number> {
  const stats = await redis.cli('INFO', 'commandstats')
  let total = 0
  for (const [, name, calls] of stats.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) if (!OWN_COMMANDS.has(name as string)) total += Number(calls)
  return total
}

/** Median time and command count of `runs` runs of `operation`, each after a fresh `prepare`. */
async function measure(redis: RedisServer, runs: number, prepare: () => Promise<void>, operation: () => Promise<unknown>): Promise<Cell> {
  const times: number[] = []
  const counts: number[] = []
  for (let run = 0; run < runs; run++) {
    await prepare()
    await redis.cli('CONFIG', 'RESETSTAT')
    const started = performance.now()
    await operation()
    times.push(performance.now() - started)
    counts.push(await commandCount(redis))
  }
  return { ms: median(times), commands: median(counts) }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

async function scenario(redis: RedisServer, store: RedisStore, runs: number): Promise<Cell[]> {
  const url = 'https://bench.example/item?id=1'
  const expect = (count: number): void => {
    if (count !== ENTRIES) throw new Error(`a delete removed ${count} entries instead of ${ENTRIES}: the numbers would mean nothing`)
  }
  const byUrl = await measure(redis, runs, () => store.set(Array.from({ length: ENTRIES }, (_, i) => entry(url, 'by-url', i))), async () => expect(await store.delete(url)))
  const byTag = await measure(
    redis,
    runs,
    () => store.set(Array.from({ length: ENTRIES }, (_, i) => entry(`https://bench.example/tagged/${i}`, 'bench-tag', 0))),
    async () => expect(await store.deleteTags(['bench-tag'])),
  )
  const walk = await measure(redis, 1, async () => {}, async () => {
    for await (const _ of store.ids()) {
      // Only the walk is measured.
    }
  })
  return [byUrl, byTag, walk]
}

/** Runs the bench on a redis-server of its own and returns the lines of its report. */
export async function invalidationBench(): Promise<string[]> {
  const unrelated = positiveInteger('BENCH_INVALIDATION_KEYS', 1_000_000)
  const runs = positiveInteger('BENCH_INVALIDATION_RUNS', 25)
  const redis = await startRedis()
  const store = new RedisStore({ url: redis.url, namespace: NAMESPACE })
  try {
    await store.ready()
    // Warm-up (JIT, connection, Redis script cache), so the first column is not the slower for it.
    await scenario(redis, store, 5)
    const empty = await scenario(redis, store, runs)
    const started = performance.now()
    // DEBUG POPULATE: keys `<prefix>:<n>`. Under the namespace they look like variants of one entry.
    await redis.cli('DEBUG', 'POPULATE', String(Math.ceil(unrelated / 2)), `${NAMESPACE}:{0abc}`)
    await redis.cli('DEBUG', 'POPULATE', String(Math.floor(unrelated / 2)), UNRELATED_PREFIX)
    const dbsize = Number(await redis.cli('DBSIZE'))
    const populateMs = performance.now() - started
    const crowded = await scenario(redis, store, runs)
    const rows: Row[] = [
      { name: `delete(url), ${ENTRIES} entries`, cells: [empty[0] as Cell, crowded[0] as Cell] },
      { name: `deleteTags([tag]), ${ENTRIES} entries`, cells: [empty[1] as Cell, crowded[1] as Cell] },
      { name: 'namespace walk (SCAN), for contrast', cells: [empty[2] as Cell, crowded[2] as Cell] },
    ]
    return [
      `Invalidation through the indexes (issue 14): median of ${runs} runs (the walk: 1 run); Redis commands per call`,
      table(['', 'empty Redis', `${dbsize.toLocaleString('en')} keys in Redis`], rows),
      `(${dbsize.toLocaleString('en')} keys populated in ${(populateMs / 1000).toFixed(1)} s, half under the store's namespace)`,
    ]
  } finally {
    await store.close()
    await redis.stop()
  }
}

function table(header: readonly string[], rows: readonly Row[]): string {
  const lines = [header, ...rows.map((row) => [row.name, ...row.cells.map(cellText)])]
  const widths = header.map((_, column) => Math.max(...lines.map((line) => (line[column] ?? '').length)))
  return lines.map((line) => line.map((text, column) => text.padEnd(widths[column] as number)).join('   ').trimEnd()).join('\n')
}

function cellText(cell: Cell): string {
  const ms = cell.ms < 10 ? cell.ms.toFixed(2) : cell.ms.toFixed(0)
  return `${ms} ms, ${cell.commands} commands`
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  invalidationBench().then(
    (lines) => {
      console.log(lines.join('\n'))
      process.exit(0)
    },
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error)
      process.exit(1)
    },
  )
}
