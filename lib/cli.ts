#!/usr/bin/env node
/**
 * `undici-redis-cache`: an operator's view of a RedisStore namespace, through the store admin API.
 * Exit codes: 0 done, 1 Redis failed (unreachable, or a command failed), 2 bad usage.
 */
import { parseArgs } from 'node:util'
import { InvalidOptionError } from './errors.js'
import { COUNTER_NAMES, type EntryInfo } from './stores/admin.js'
import { RedisStore } from './stores/redis-store.js'

const USAGE = `usage: undici-redis-cache <command> [--url redis://host:port] [--namespace http_cache] [--json]
commands:
  stats                                         counters (all processes) and what the namespace holds
  list [--limit N]                              one line per stored response
  purge --all | --expired | --url-match <url> [--method GET]
                                                delete the whole namespace, the stale entries, or one URL
--url defaults to REDIS_URL, else redis://127.0.0.1:6379`

/** How long to wait for Redis before giving up with exit code 1. */
const CONNECT_TIMEOUT_MS = 3000

const OPTIONS = {
  url: { type: 'string' },
  namespace: { type: 'string', default: 'http_cache' },
  json: { type: 'boolean', default: false },
  limit: { type: 'string' },
  'url-match': { type: 'string' },
  method: { type: 'string' },
  expired: { type: 'boolean', default: false },
  all: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

/** Options each command accepts besides url, namespace and json. */
const COMMAND_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  stats: [],
  list: ['limit'],
  purge: ['all', 'expired', 'url-match', 'method'],
}

class UsageError extends Error {}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values']

async function main(argv: readonly string[]): Promise<number> {
  let command: string
  let values: Values
  try {
    ;({ command, values } = parseCommand(argv))
  } catch (error) {
    const reason = error instanceof UsageError || error instanceof TypeError ? `${error.message}\n` : ''
    process.stderr.write(`${reason}${USAGE}\n`)
    return 2
  }
  const url = values.url ?? process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'
  let store: RedisStore
  try {
    store = new RedisStore({ url, namespace: values.namespace })
  } catch (error) {
    process.stderr.write(`undici-redis-cache: ${(error as Error).message}\n`)
    return error instanceof InvalidOptionError ? 2 : 1
  }
  try {
    await store.ready(CONNECT_TIMEOUT_MS)
    await run(store, command, values)
    return 0
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error)
    process.stderr.write(`undici-redis-cache: ${command} on ${redactPassword(url)} failed: ${detail}\n`)
    return 1
  } finally {
    await store.close()
  }
}

function parseCommand(argv: readonly string[]): { command: string; values: Values } {
  const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true })
  const [command, ...extra] = positionals
  if (values.help) throw new UsageError('')
  if (command === undefined || !Object.hasOwn(COMMAND_OPTIONS, command)) {
    throw new UsageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`)
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`)
  const allowed = COMMAND_OPTIONS[command] ?? []
  for (const name of ['limit', 'all', 'expired', 'url-match', 'method'] as const) {
    const given = values[name] !== undefined && values[name] !== false
    if (given && !allowed.includes(name)) throw new UsageError(`--${name} does not apply to ${command}`)
  }
  if (values.limit !== undefined && !/^[1-9][0-9]*$/.test(values.limit)) throw new UsageError('--limit takes a positive integer')
  if (command === 'purge') {
    const chosen = [values.all, values.expired, values['url-match'] !== undefined].filter(Boolean).length
    if (chosen !== 1) throw new UsageError('purge takes exactly one of --all, --expired, --url-match <url>')
    if (values.method !== undefined && values['url-match'] === undefined) throw new UsageError('--method goes with --url-match')
    if (values['url-match'] !== undefined && !URL.canParse(values['url-match'])) throw new UsageError('--url-match takes an absolute URL')
  }
  return { command, values }
}

async function run(store: RedisStore, command: string, values: Values): Promise<void> {
  switch (command) {
    case 'stats': {
      const stats = await store.stats()
      if (values.json) return print(JSON.stringify(stats))
      // writes and deletes count this process's own calls (none yet), so the table leaves them out.
      for (const name of ['entries', 'bytes', ...COUNTER_NAMES] as const) await print(`${name.padEnd(14)}${stats[name]}`)
      return
    }
    case 'list': {
      const limit = values.limit === undefined ? Infinity : Number(values.limit)
      let listed = 0
      for await (const entry of store.entries()) {
        if (listed++ >= limit) break
        await print(values.json ? JSON.stringify(entry) : entryLine(entry))
      }
      return
    }
    case 'purge': {
      if (values.all) {
        await store.clear()
        return print(values.json ? JSON.stringify({ cleared: store.namespace }) : `cleared namespace ${store.namespace}`)
      }
      const target = values['url-match']
      const deleted = target === undefined ? await store.deleteExpired() : await store.delete(target, { method: values.method ?? 'GET' })
      return print(values.json ? JSON.stringify({ deleted }) : `deleted ${deleted}`)
    }
  }
}

/** status, method, url, size, stored at, expires, fresh/stale: tab-separated for cut and awk. */
function entryLine(entry: EntryInfo): string {
  const expires = entry.expiresAt === null ? 'never' : entry.expiresAt.toISOString()
  const columns = [entry.status, entry.method, entry.url, entry.size, entry.storedAt.toISOString(), expires, entry.stale ? 'stale' : 'fresh']
  return columns.join('\t')
}

/** Writes one line, waiting while stdout's buffer is full so a long listing does not pile up in memory. */
async function print(line: string): Promise<void> {
  if (!process.stdout.write(`${line}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve))
}

function redactPassword(url: string): string {
  if (!URL.canParse(url)) return url
  const parsed = new URL(url)
  if (parsed.password !== '') parsed.password = '***'
  return parsed.href
}

// `| head` closes the pipe early: stop quietly instead of crashing on EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error
  process.exit(0)
})

process.exitCode = await main(process.argv.slice(2))
