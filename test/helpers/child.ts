/**
 * A test fixture run as a real child process (tsx), talking in lines: the test writes commands to its
 * stdin, the child prints `ready` once it can take them, then one line per answer. What the fleet and
 * tier-coherence tests share; each keeps its own protocol over the lines.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface FixtureChild {
  readonly name: string
  readonly process: ChildProcess
  /** Resolves once the child printed `ready`; rejects with exited's error if it exits first. */
  readonly ready: Promise<void>
  /** Resolves, never rejects, when the child exits: an error naming its exit code or signal, and its stderr. */
  readonly exited: Promise<Error>
  /** Everything the child wrote to stderr so far. */
  stderr(): string
  writeLine(line: string): void
  /** Whether the child is still running. */
  readonly running: boolean
}

/**
 * Starts `script` (relative to the repository root) with `args`, killed (SIGKILL) after `timeoutMs`
 * whatever happens. Each stdout line after `ready` goes to `onLine`.
 */
export function startFixture(script: string, args: readonly string[], options: { readonly name: string; readonly timeoutMs: number; readonly onLine: (line: string) => void }): FixtureChild {
  const { name, timeoutMs, onLine } = options
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  let buffered = ''
  let signalReady: () => void = () => {}
  const exited = new Promise<Error>((resolve) => child.on('exit', (code, signal) => resolve(new Error(`child ${name} exited with ${code ?? signal}: ${stderr}`))))
  const ready = Promise.race([new Promise<void>((resolve) => (signalReady = resolve)), exited.then((error) => Promise.reject(error))])
  // A child that exits before `ready` is reported by whoever awaits `ready`; never an unhandled rejection.
  ready.catch(() => {})
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  // A line written to a child that just died fails with EPIPE: the test learns of it from `exited`.
  child.stdin!.on('error', () => {})
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    let newline: number
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      if (line === 'ready') signalReady()
      else onLine(line)
    }
  })
  return {
    name,
    process: child,
    ready,
    exited,
    stderr: () => stderr,
    writeLine: (line) => void child.stdin!.write(`${line}\n`),
    get running() {
      return child.exitCode === null && child.signalCode === null
    },
  }
}

/** Ends `children`: `exit` on stdin first when `polite`, then SIGKILL for any still running after `graceMs`. */
export async function stopFixtures(children: readonly (FixtureChild | undefined)[], options: { readonly polite: boolean; readonly graceMs: number }): Promise<void> {
  const running = children.filter((child): child is FixtureChild => child?.running === true)
  const exited = Promise.all(running.map((child) => child.exited))
  if (options.polite) {
    for (const child of running) child.process.stdin!.end('exit\n')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, options.graceMs))])
  }
  for (const child of running) if (child.running) child.process.kill('SIGKILL')
  await exited
}
