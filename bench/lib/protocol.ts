/**
 * What the orchestrator (bench/run.ts) and its child processes say to each other over the fork IPC
 * channel. Plain JSON-able data only.
 */

export const CONTENDERS = ['undici', 'undici-cache', 'memory', 'redis', 'floor', 'redis-local', 'platformatic', 'pair'] as const
export type ContenderId = (typeof CONTENDERS)[number]

export const CONTENDER_LABELS: Readonly<Record<ContenderId, string>> = {
  'undici': '(a) undici, no cache',
  'undici-cache': '(b) undici interceptors.cache()',
  'memory': '(c) cache() + MemoryStore',
  'redis': '(d) cache() + RedisStore',
  'floor': '(e) floor: node-redis GET',
  'redis-local': '(f) cache() + RedisStore localCache',
  'platformatic': '(g) platformatic undici-cache-redis',
  'pair': '(h) pair: a MemoryStore hit, then a GET',
}

/** BENCH_CONTENDERS may name a contender by its letter in CONTENDER_LABELS. */
export const CONTENDER_LETTERS: Readonly<Record<string, ContenderId>> = {
  a: 'undici',
  b: 'undici-cache',
  c: 'memory',
  d: 'redis',
  e: 'floor',
  f: 'redis-local',
  g: 'platformatic',
  h: 'pair',
}

export const KiB = 1024
export const MiB = 1024 * KiB

/** Bodies up to this size are read with `body.arrayBuffer()`; larger ones are streamed and counted. */
export const BUFFERED_BODY_LIMIT = 1 * MiB

/** Stored-entry size limit given to every cache contender, so 10 MiB bodies are cached by all of them. */
export const BENCH_MAX_ENTRY_SIZE = 64 * MiB

/**
 * Redis keys of the floor contender, of platformatic's store and of the key-count scenario live outside
 * the cache namespace.
 */
export const CACHE_NAMESPACE = 'bench_cache'
export const FLOOR_PREFIX = 'bench_floor'
export const UNRELATED_PREFIX = 'bench_unrelated'
/** platformatic's store prefixes its own keys (`<prefix>metadata:…`, `<prefix>values:…`) with this. */
export const PLATFORMATIC_PREFIX = 'bench_platformatic:'

/** Per-store command timeout in the bench (the default is 200 ms): see the header printed by run.ts. */
export const BENCH_COMMAND_TIMEOUT_MS = 5000

export interface WorkerEnvironment {
  readonly originUrl: string
  readonly redisUrl: string
  readonly seconds: number
  readonly warmupSeconds: number
  /** Makes this measurement's URL and Redis key unique, so every worker primes its own entry. */
  readonly run: string
  /** When set, the measured phase is CPU-profiled into this directory (BENCH_PROFILE=1). */
  readonly profileDir?: string
}

export interface WorkerResult {
  readonly contender: ContenderId
  readonly size: number
  readonly concurrency: number
  readonly completed: number
  readonly elapsedMs: number
  readonly hitsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** RSS right after priming and a forced GC, before any concurrent load. */
  readonly baselineRssKiB: number
  /** `process.resourceUsage().maxRSS` at the end: the process's peak over its whole life. */
  readonly peakRssKiB: number
  /** peak − baseline: what the concurrent hits added. */
  readonly rssRiseKiB: number
  /** Requests that reached the origin during the measured phase (0 for a cache serving only hits). */
  readonly originRequests: number
  /** Requests the priming loop sent before the first request the origin did not see. */
  readonly primingRequests: number
  readonly errors: number
  readonly firstError?: string
  /** Reports the cache's onError received (store timeouts, discarded writes…). */
  readonly cacheErrors: number
  readonly firstCacheError?: string
}

/** A worker's result, or why there is none (crash, timeout, failed priming). */
export type Outcome = { readonly ok: true; readonly result: WorkerResult } | { readonly ok: false; readonly error: string }

export type WorkerMessage = { readonly type: 'result'; readonly result: WorkerResult }

export type OriginMessage = { readonly type: 'listening'; readonly url: string }
