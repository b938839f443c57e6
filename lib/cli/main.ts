/**
 * `undici-redis-cache`: an operator's view of a RedisStore namespace, through the store admin API.
 * Importable, so tests run it in-process; lib/cli.ts is the bin shim around it.
 * Exit codes: 0 done, 1 Redis failed (unreachable, or a command failed), 2 bad usage.
 */
import { readFileSync } from 'node:fs'
import { InvalidOptionError } from '../errors.js'
import type { EntryInfo } from '../stores/admin.js'
import { STORE_COUNTER_NAMES } from '../stores/counters.js'
import { RedisStore, type RedisStoreOptions } from '../stores/redis-store.js'
import { clusterUrls, parseAge, parseCommand, USAGE, UsageError, type Command, type Values } from './args.js'

/** Where the CLI writes (process.stdout, or a test's collector). */
export interface Writer {
  /** As stream.Writable#write: false asks the caller to wait for 'drain'. */
  write(chunk: string): boolean
  once?(event: 'drain', listener: () => void): unknown
}

export interface CliIo {
  readonly stdout: Writer
  readonly stderr: Writer
  /** Read for REDIS_URL only. */
  readonly env: Readonly<Record<string, string | undefined>>
}

/** The stats table's rows, in order. */
const STATS_ROWS = ['entries', 'bytes', ...STORE_COUNTER_NAMES] as const

/** Runs one CLI invocation (`argv` without node and the script) and resolves to its exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed
  try {
    parsed = parseCommand(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    io.stderr.write(`${error.message}\n${USAGE}\n`)
    return 2
  }
  if (parsed.kind === 'help') {
    await print(io.stdout, USAGE)
    return 0
  }
  if (parsed.kind === 'version') {
    await print(io.stdout, packageVersion())
    return 0
  }
  const { command, values } = parsed
  const url = values.cluster ?? values.url ?? io.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'
  let store: RedisStore
  try {
    const connection: RedisStoreOptions = values.cluster === undefined ? { url } : { cluster: clusterOptions(clusterUrls(values.cluster)) }
    const timeout = values.timeout === undefined ? {} : { commandTimeout: Number(values.timeout) }
    store = new RedisStore({ ...connection, namespace: values.namespace, ...timeout })
  } catch (error) {
    io.stderr.write(`undici-redis-cache: ${(error as Error).message}\n`)
    return error instanceof InvalidOptionError ? 2 : 1
  }
  try {
    // No wait of its own for the connection: the first command waits for the first connect attempt
    // within --timeout, and fails at once with its error (refused, WRONGPASS) as redis-cli does.
    await run(store, command, values, (line) => print(io.stdout, line))
    return 0
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error)
    io.stderr.write(`undici-redis-cache: ${command} on ${url.split(',').map(redactPassword).join(',')} failed: ${detail}\n`)
    return 1
  } finally {
    await store.close()
  }
}

async function run(store: RedisStore, command: Command, values: Values, out: (line: string) => Promise<void>): Promise<void> {
  switch (command) {
    case 'stats': {
      const stats = await store.stats()
      if (values.json) return out(JSON.stringify(stats))
      for (const name of STATS_ROWS) await out(`${name.padEnd(14)}${stats[name]}`)
      return
    }
    case 'list': {
      const limit = values.limit === undefined ? Infinity : Number(values.limit)
      let listed = 0
      for await (const entry of store.entries()) {
        if (listed++ >= limit) break
        await out(values.json ? JSON.stringify(entry) : entryLine(entry))
      }
      return
    }
    case 'purge': {
      if (values.all) {
        await store.clear()
        return out(values.json ? JSON.stringify({ cleared: store.namespace }) : `cleared namespace ${store.namespace}`)
      }
      const deleted = await purge(store, values)
      return out(values.json ? JSON.stringify({ deleted }) : `deleted ${deleted}`)
    }
  }
}

/** The purge args.ts checked: exactly one target besides --all. */
function purge(store: RedisStore, values: Values): Promise<number> {
  const url = values['url-match']
  if (url !== undefined) return store.delete(url, values.method === undefined ? {} : { method: values.method })
  if (values.prefix !== undefined) return store.deletePrefix(values.prefix)
  if (values.tag !== undefined) return store.deleteTags(values.tag)
  if (values['older-than'] !== undefined) return store.deleteOlderThan(parseAge(values['older-than']))
  return store.deleteExpired()
}

/** status, method, url, size, stored at, expires, fresh/stale: tab-separated for cut and awk. */
function entryLine(entry: EntryInfo): string {
  const expires = entry.expiresAt === null ? 'never' : entry.expiresAt.toISOString()
  const columns = [entry.status, entry.method, entry.url, entry.size, entry.storedAt.toISOString(), expires, entry.stale ? 'stale' : 'fresh']
  return columns.join('\t')
}

/** Writes one line, waiting while the writer's buffer is full so a long listing does not pile up in memory. */
async function print(writer: Writer, line: string): Promise<void> {
  if (!writer.write(`${line}\n`) && writer.once !== undefined) {
    await new Promise<void>((resolve) => writer.once?.('drain', resolve))
  }
}

/**
 * The version in package.json, read when asked. This file runs as lib/cli/main.ts (tsx) or
 * dist/cli/main.js (the bin): both sit two levels below the package root.
 */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
  return String(manifest.version)
}

/**
 * Root nodes for `--cluster`. node-redis connects to the nodes it discovers with the cluster's
 * `defaults`, not with a root node's URL, so the first URL's credentials and TLS go there too.
 */
function clusterOptions(urls: readonly string[]): { rootNodes: { url: string }[]; defaults: { username?: string; password?: string; socket?: { tls: true } } } {
  const first = new URL(urls[0] as string)
  const defaults = {
    ...(first.username === '' ? {} : { username: decodeURIComponent(first.username) }),
    ...(first.password === '' ? {} : { password: decodeURIComponent(first.password) }),
    ...(first.protocol === 'rediss:' ? { socket: { tls: true as const } } : {}),
  }
  return { rootNodes: urls.map((url) => ({ url })), defaults }
}

function redactPassword(url: string): string {
  if (!URL.canParse(url)) return url
  const parsed = new URL(url)
  if (parsed.password !== '') parsed.password = '***'
  return parsed.href
}
