/**
 * The bench's child processes (the origin and one worker per measurement), each bounded in time and
 * all killed when the orchestrator exits, is interrupted or crashes.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { ContenderId, OriginMessage, Outcome, WorkerEnvironment, WorkerMessage, WorkerResult } from './protocol.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ORIGIN_SCRIPT = fileURLToPath(new URL('./origin.ts', import.meta.url))
const WORKER_SCRIPT = fileURLToPath(new URL('./worker.ts', import.meta.url))
const ORIGIN_START_TIMEOUT_MS = 20_000
/** Past its warm-up and measured time, a worker gets this long for start-up, priming and close. */
const WORKER_GRACE_MS = 60_000
const STDERR_LIMIT = 4000

const children = new Set<ChildProcess>()

/**
 * Optional CPU placement (BENCH_PIN=1): the measured client alone on CPU 0, everything else (origin,
 * redis-server, this orchestrator) on the other CPUs. Off by default: on the 2-vCPU VM the README's
 * figures come from, pinning made every cross-process round trip slower (a vCPU wake-up each time) and
 * cut concurrency-1 throughput by 3-5x for every contender. Needs `taskset` and at least 2 CPUs.
 */
export const pinning: { readonly client: string; readonly servers: string } | undefined = (() => {
  const cpus = availableParallelism()
  if (process.env['BENCH_PIN'] !== '1' || cpus < 2) return undefined
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
  } catch {
    return undefined
  }
  return { client: '0', servers: cpus === 2 ? '1' : `1-${cpus - 1}` }
})()

/**
 * The workers' allocator (BENCH_MALLOC). By default glibc keeps freed memory instead of returning it
 * to the kernel: every 1 MiB hit allocates a fresh 1 MiB buffer in the client (body.arrayBuffer()),
 * and whether glibc hands back reused heap or fresh pages flipped from run to run, each fresh page a
 * fault that cost about 11 µs on the 2-vCPU VM the README's figures come from (2.8 ms per MiB). That
 * made 1 MiB cells swing several-fold between runs of the same contender. With `MALLOC_MMAP_THRESHOLD_`
 * and `MALLOC_TRIM_THRESHOLD_` raised, every contender reuses its heap and the cells measure the
 * caches. `BENCH_MALLOC=system` leaves glibc's defaults. Other allocators ignore these variables.
 */
export const allocator: { readonly label: string; readonly env: NodeJS.ProcessEnv } =
  process.env['BENCH_MALLOC'] === 'system'
    ? { label: 'glibc defaults (BENCH_MALLOC=system)', env: process.env }
    : {
        label: 'glibc heap kept (MALLOC_MMAP_THRESHOLD_=64 MiB, MALLOC_TRIM_THRESHOLD_=256 MiB); BENCH_MALLOC=system for the defaults',
        env: { ...process.env, MALLOC_MMAP_THRESHOLD_: String(64 * 1024 * 1024), MALLOC_TRIM_THRESHOLD_: String(256 * 1024 * 1024) },
      }

/** Moves every thread of `pid` to `cpus`; a no-op without pinning. */
export function pin(pid: number | undefined, role: 'client' | 'servers'): void {
  if (pinning === undefined || pid === undefined || !Number.isInteger(pid)) return
  execFileSync('taskset', ['-a', '-p', '-c', pinning[role], String(pid)], { stdio: 'ignore' })
}

export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
}

function spawnTs(script: string, args: readonly string[], execArgv: readonly string[] = [], env = process.env): ChildProcess {
  const child = fork(script, args, {
    cwd: ROOT,
    env,
    execArgv: ['--import', 'tsx', ...execArgv],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

export interface OriginProcess {
  readonly url: string
  stop(): Promise<void>
}

export async function startOrigin(): Promise<OriginProcess> {
  const child = spawnTs(ORIGIN_SCRIPT, [])
  pin(child.pid, 'servers')
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_LIMIT)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the origin did not start within ${ORIGIN_START_TIMEOUT_MS} ms\n${stderr}`)), ORIGIN_START_TIMEOUT_MS)
    child.once('message', (message: OriginMessage) => {
      clearTimeout(timer)
      resolve(message.url)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the origin exited (code ${code})\n${stderr}`))
    })
  })
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

export function runWorker(
  contender: ContenderId,
  size: number,
  concurrency: number,
  env: WorkerEnvironment,
): Promise<Outcome> {
  const child = spawnTs(WORKER_SCRIPT, [contender, String(size), String(concurrency), JSON.stringify(env)], ['--expose-gc'], allocator.env)
  // Start-up runs unpinned for a moment; threads started later inherit the mask.
  pin(child.pid, 'client')
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_LIMIT)))
  let result: WorkerResult | undefined
  child.on('message', (message: WorkerMessage) => {
    if (message.type === 'result') result = message.result
  })
  const budgetMs = (env.warmupSeconds + env.seconds) * 1000 + WORKER_GRACE_MS
  return new Promise((resolve) => {
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, budgetMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (result !== undefined && code === 0) return resolve({ ok: true, result })
      const why = timedOut ? `killed after ${budgetMs} ms` : `exited with ${signal ?? `code ${code}`}`
      resolve({ ok: false, error: `${why}${stderr.trim() === '' ? '' : `: ${lastLines(stderr, 6)}`}` })
    })
  })
}

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join(' | ')
}
