/**
 * A throwaway redis-server for tests: its own free loopback port (never 6379), no persistence, a
 * temporary working directory, and handles for the faults reliability tests inject (kill, restart,
 * SIGSTOP). Every child is killed when the test process exits, even after a crash.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** SIGTERM (after SIGCONT, in case it is paused), waits for exit, removes the working directory. */
  stop(): Promise<void>
  /** SIGKILL, waits for exit; the working directory stays for restart(). */
  kill(): Promise<void>
  /** Stops the server if it runs, then starts a fresh one on the same port. */
  restart(): Promise<void>
  /** SIGSTOP: the server keeps its connections but answers nothing. */
  pause(): void
  /** SIGCONT */
  resume(): void
  /** Runs `redis-cli -p <port> ...args` and returns its stdout without the trailing newline. */
  cli(...args: string[]): Promise<string>
}

const READY_TIMEOUT_MS = 5000
const STOP_TIMEOUT_MS = 5000
const START_ATTEMPTS = 5
const OUTPUT_LIMIT = 8192

const children = new Set<ChildProcess>()
const directories = new Set<string>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL')
    for (const directory of directories) rmSync(directory, { recursive: true, force: true })
  })
}

export async function startRedis(options: { args?: string[] } = {}): Promise<RedisServer> {
  installExitHook()
  const extraArgs = options.args ?? []
  const directory = mkdtempSync(join(tmpdir(), 'urc-redis-'))
  directories.add(directory)

  let lastError: unknown
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freePort()
    try {
      const child = await launch(port, directory, extraArgs)
      return new Server(port, directory, extraArgs, child)
    } catch (error) {
      lastError = error
      if (!(error instanceof PortTakenError)) break
    }
  }
  rmSync(directory, { recursive: true, force: true })
  directories.delete(directory)
  throw lastError
}

class Server implements RedisServer {
  readonly url: string
  #child: ChildProcess | undefined

  constructor(
    readonly port: number,
    readonly directory: string,
    readonly extraArgs: readonly string[],
    child: ChildProcess,
  ) {
    this.url = `redis://127.0.0.1:${port}`
    this.#child = child
  }

  async stop(): Promise<void> {
    await this.#terminate('SIGTERM')
    rmSync(this.directory, { recursive: true, force: true })
    directories.delete(this.directory)
  }

  async kill(): Promise<void> {
    await this.#terminate('SIGKILL')
  }

  async restart(): Promise<void> {
    await this.#terminate('SIGTERM')
    mkdirSync(this.directory, { recursive: true })
    directories.add(this.directory)
    let lastError: unknown
    // The port was just released; another process may grab it in between, so retry briefly.
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      try {
        this.#child = await launch(this.port, this.directory, this.extraArgs)
        return
      } catch (error) {
        lastError = error
        if (!(error instanceof PortTakenError)) break
        await delay(100)
      }
    }
    throw lastError
  }

  pause(): void {
    this.#child?.kill('SIGSTOP')
  }

  resume(): void {
    this.#child?.kill('SIGCONT')
  }

  cli(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('redis-cli', ['-p', String(this.port), ...args], { timeout: READY_TIMEOUT_MS }, (error, stdout) => {
        if (error) reject(error)
        else resolve(stdout.replace(/\n$/, ''))
      })
    })
  }

  async #terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child
    this.#child = undefined
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGCONT')
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }
}

class PortTakenError extends Error {}

async function launch(port: number, directory: string, extraArgs: readonly string[]): Promise<ChildProcess> {
  if (port === 6379) throw new Error('refusing to start the test Redis on 6379, the developer instance')
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--enable-debug-command', 'local',
    '--dir', directory,
    ...extraArgs,
  ]
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let output = ''
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  let spawnError: Error | undefined
  child.once('error', (error) => {
    spawnError = error
  })
  child.once('exit', () => children.delete(child))

  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (spawnError !== undefined) throw new Error(`could not run redis-server: ${spawnError.message}`)
    if (child.exitCode !== null || child.signalCode !== null) break
    if (await answersPing(port)) return child
    await delay(25)
  }
  const exited = child.exitCode !== null || child.signalCode !== null
  if (!exited) {
    const gone = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await gone
  }
  // Let the last output arrive before quoting it.
  await delay(10)
  if (/Address already in use/i.test(output)) throw new PortTakenError(`port ${port} is taken`)
  throw new Error(
    exited
      ? `redis-server on port ${port} exited (code ${child.exitCode}, signal ${child.signalCode}):\n${output}`
      : `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${output}`,
  )
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    let reply = ''
    const finish = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => finish(false))
    socket.once('error', () => finish(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1')
      // "-LOADING" or similar means the server is up but not ready yet.
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'))
    })
  })
}

/** A loopback port nothing listens on at the moment; never 6379, where a developer's own Redis may run. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port === 0 || port === 6379 ? freePort().then(resolve, reject) : resolve(port)))
    })
  })
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * The keys of `namespace` that hold entries, vary pointers or bodies (`<ns>:{<hex>}…`), sorted; its
 * index keys (`<ns>:{o:…}`, `{t:…}`, `{a:…}`, redis-layout.ts) and stats hash left out.
 */
export async function entryKeys(server: Pick<RedisServer, 'cli'>, namespace: string): Promise<string[]> {
  const keys = (await server.cli('--scan', '--pattern', `${namespace}:{*`)).split('\n').filter(Boolean)
  // Fleet locks (`…}!miss`, `…}!revalidate`, redis-locks.ts) share the entry's hash tag but hold no entry.
  return keys.filter((key) => /^\{[0-9a-f]+\}/.test(key.slice(namespace.length + 1)) && !key.includes('!')).sort()
}

/** The index keys of `namespace` (redis-layout.ts: `<ns>:{o:…}`, `{t:…}`, `{a:…}`), sorted. */
export async function indexKeys(server: Pick<RedisServer, 'cli'>, namespace: string): Promise<string[]> {
  const keys = (await server.cli('--scan', '--pattern', `${namespace}:{*`)).split('\n').filter(Boolean)
  return keys.filter((key) => /^\{[a-z]:/.test(key.slice(namespace.length + 1))).sort()
}
