/**
 * What bench/soak-fleet.ts (the orchestrator and origin) and bench/soak-fleet-worker.ts (each worker
 * process) share: the run's shape, the bodies the origin sends, and the messages between them.
 */
import { createHash } from 'node:crypto'
export { prng as random } from '../test/helpers/prng.js'

export const WORKERS = 4
export const REQUESTS_PER_WORKER = 10_000
export const URL_COUNT = 100
export const CONCURRENCY = 8
/** Operations started per second per worker at most: 10,000 in about 30 s. */
export const RATE_PER_WORKER = 330
/** Share of operations that are invalidations (store.delete, store.deleteTags, a POST through the cache). */
export const INVALIDATION_SHARE = 0.02
/** URLs are filed under one of this many group tags, `g<index % GROUPS>`, by the origin's Cache-Tag. */
export const GROUPS = 20
export const MAX_AGE_S = 3
export const COMMAND_TIMEOUT_MS = 100
export const TIER_BYTES = 64 * 1024 * 1024
export const REQUEST_TIMEOUT_MS = 10_000
/** The documented worst case for an invalidation to reach every tier (two tracking heartbeats). */
export const BOUND_MS = 2000
/**
 * For a fill whose write was never acknowledged (the reply lost to the outage or a timeout): the
 * longest its write may land after the origin sent the response. Only used to tell a fill that raced
 * an invalidation from one the invalidation must have removed when the fill's ack is unknown.
 */
export const UNACKED_RACE_MS = 1000
const MIN_BODY = 100
const MAX_BODY = 8 * 1024

/** Epoch milliseconds with sub-millisecond precision, comparable between processes of one machine. */
export const now = (): number => performance.timeOrigin + performance.now()

export const pathOf = (index: number): string => `/item/${index}`
export const tagOf = (index: number): string => `g${index % GROUPS}`
/** The origin's response serial, as the `x-serial` field carries it: unique, and easy to find in stored bytes. */
export const serialField = (serial: number): string => `serial-${serial}-end`
export const SERIAL_PATTERN = /serial-(\d+)-end/g

/** `<path> v<version>\n` then sha256(path#version) in hex, repeated to the URL's size: exactly one body per URL and version. */
export function bodyOf(index: number, version: number): Buffer {
  const path = pathOf(index)
  const digest = createHash('sha256').update(`${path}#${version}`).digest('hex')
  const out = Buffer.alloc(MIN_BODY + ((index * 7919 + 13) % (MAX_BODY - MIN_BODY + 1)), digest)
  out.write(`${path} v${version}\n`, 0, 'latin1')
  return out
}

/** The version `body` claims for `index`, if it is exactly that version's body; undefined for a wrong body. */
export function versionOf(index: number, body: Buffer): number | undefined {
  const newline = body.indexOf(0x0a)
  const match = newline < 0 ? null : /^(\/item\/\d+) v(\d+)$/.exec(body.subarray(0, newline).toString('latin1'))
  if (match === null || match[1] !== pathOf(index)) return undefined
  const version = Number(match[2])
  return body.equals(bodyOf(index, version)) ? version : undefined
}


/** One GET as a worker saw it: [url index, version in the body, x-serial, started, ended, 1 if served by the cache]. */
export type Response = [index: number, version: number, serial: number, startedAt: number, endedAt: number, cached: number]

/** One invalidation of one URL: the origin had bumped it to `version` before `startedAt`. */
export interface Invalidation {
  readonly index: number
  readonly version: number
  readonly kind: 'delete' | 'tags' | 'post'
  readonly startedAt: number
  readonly endedAt: number
  /** False when the store call failed or, for a POST, the cache's deletion failed or never ran (Redis away). */
  readonly confirmed: boolean
  /** Why not: the store call failed, or (a POST) the cache never began a deletion (store skipped: breaker open). */
  readonly unconfirmed?: 'failed' | 'skipped'
}

export interface WorkerReport {
  readonly type: 'done'
  readonly name: string
  readonly operations: number
  readonly failed: number
  readonly wrongBodies: number
  readonly failures: string[]
  readonly responses: Response[]
  readonly invalidations: Invalidation[]
  /** [serial, when the store write holding it was acknowledged by Redis] */
  readonly acks: [number, number][]
  readonly tier: { hits: number; misses: number; drops: number; entries: number; live: boolean } | undefined
  readonly onError: Record<string, number>
  /** The first few URC_ERR_STORE messages (the tier's tracking losses among them), with their time in the run. */
  readonly errorSamples: string[]
  /** The worker's event loop delay over the run, in ms. */
  readonly loopDelay: { readonly p99: number; readonly max: number }
}

export type ToWorker = { readonly type: 'go'; readonly at: number }
export type FromWorker = { readonly type: 'ready' } | WorkerReport
