/**
 * The CLI's command line: the usage text, and argv parsed into one command or a UsageError. No I/O,
 * so every rule is tested without Redis.
 */
import { parseArgs } from 'node:util'

export const USAGE = `usage: undici-redis-cache <command> [--url redis://host:port | --cluster <url>[,<url>...]] [--namespace http_cache] [--json] [--timeout ms]
commands:
  stats                                         counters (all processes) and what the namespace holds
  list [--limit N]                              one line per stored response
  purge --all | --expired | --url-match <url> [--method GET] | --prefix <url> | --tag <tag>... | --older-than <age>
                                                delete the whole namespace, the stale entries, the
                                                entries of one URL (exact, absolute http(s); every method
                                                unless --method), of every URL under a prefix, filed
                                                under any of the tags (repeat --tag), or stored longer
                                                ago than <age> (90s, 30m, 1h, 7d; a bare number is seconds)
--url defaults to REDIS_URL, else redis://127.0.0.1:6379
--cluster takes the URLs of one or more nodes of a Redis Cluster (comma-separated): the commands then
  cover every master; a password or rediss:// in the first URL applies to every node
--timeout: how long each Redis round trip may take before the command fails (default 5000 ms)
  -h, --help       print this and exit
  -v, --version    print the version and exit`

const OPTIONS = {
  url: { type: 'string' },
  cluster: { type: 'string' },
  namespace: { type: 'string', default: 'http_cache' },
  json: { type: 'boolean', default: false },
  timeout: { type: 'string' },
  limit: { type: 'string' },
  'url-match': { type: 'string' },
  method: { type: 'string' },
  prefix: { type: 'string' },
  tag: { type: 'string', multiple: true },
  'older-than': { type: 'string' },
  expired: { type: 'boolean', default: false },
  all: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', short: 'v', default: false },
} as const

/** Options each command accepts besides url, cluster, namespace, json and timeout. */
const COMMAND_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  stats: [],
  list: ['limit'],
  purge: ['all', 'expired', 'url-match', 'method', 'prefix', 'tag', 'older-than'],
}

export type Command = 'stats' | 'list' | 'purge'

export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values']

/** What argv asks for: a command to run, or the usage or version to print. */
export type Parsed = { readonly kind: 'help' } | { readonly kind: 'version' } | { readonly kind: 'run'; readonly command: Command; readonly values: Values }

/** Bad usage: the CLI prints the message and the usage to stderr and exits 2. */
export class UsageError extends Error {}

/** Throws UsageError for argv the CLI cannot run; `--help` and `--version` win over everything else. */
export function parseCommand(argv: readonly string[]): Parsed {
  let parsed
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true })
  } catch (error) {
    // parseArgs throws a TypeError with a code (ERR_PARSE_ARGS_UNKNOWN_OPTION and the like).
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  const { values, positionals } = parsed
  if (values.help) return { kind: 'help' }
  if (values.version) return { kind: 'version' }
  const [command, ...extra] = positionals
  if (command === undefined || !Object.hasOwn(COMMAND_OPTIONS, command)) {
    throw new UsageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`)
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`)
  const allowed = COMMAND_OPTIONS[command] ?? []
  for (const name of ['limit', 'all', 'expired', 'url-match', 'method', 'prefix', 'tag', 'older-than'] as const) {
    const given = values[name] !== undefined && values[name] !== false
    if (given && !allowed.includes(name)) throw new UsageError(`--${name} does not apply to ${command}`)
  }
  if (values.limit !== undefined && !/^[1-9][0-9]*$/.test(values.limit)) throw new UsageError('--limit takes a positive integer')
  if (values.timeout !== undefined && !/^[1-9][0-9]{0,8}$/.test(values.timeout)) throw new UsageError('--timeout takes a positive number of milliseconds')
  if (values.cluster !== undefined) {
    if (values.url !== undefined) throw new UsageError('--url and --cluster exclude each other: one Redis, or the nodes of a cluster')
    clusterUrls(values.cluster)
  }
  if (command === 'purge') {
    const targets = [values['url-match'], values.prefix, values.tag, values['older-than']]
    const chosen = [values.all, values.expired, ...targets.map((value) => value !== undefined)].filter(Boolean).length
    if (chosen !== 1) throw new UsageError('purge takes exactly one of --all, --expired, --url-match <url>, --prefix <url>, --tag <tag>, --older-than <age>')
    if (values.method !== undefined && values['url-match'] === undefined) throw new UsageError('--method goes with --url-match')
    if (values['url-match'] !== undefined) checkUrl('--url-match', values['url-match'])
    if (values.prefix !== undefined) checkUrl('--prefix', values.prefix)
    if (values.tag?.some((tag) => tag === '')) throw new UsageError('--tag takes a non-empty tag')
    if (values['older-than'] !== undefined) parseAge(values['older-than'])
  }
  return { kind: 'run', command: command as Command, values }
}

/**
 * delete(url) matches one URL exactly and deletePrefix(url) the URLs under it, normalized as the cache
 * keys them (stores/admin-deletes.ts), and the cache only stores http(s) responses. A pattern neither
 * can honour would delete nothing and say "deleted 0", which reads as "nothing was cached": refuse it.
 */
function checkUrl(option: string, value: string): void {
  const takes = `${option} takes one absolute http:// or https:// URL`
  if (value.includes('*')) throw new UsageError(`${takes}; wildcards (*) are not supported: use --prefix for every URL under a path, or purge --all`)
  if (!URL.canParse(value)) throw new UsageError(`${takes}; got ${JSON.stringify(value)}`)
  const { protocol } = new URL(value)
  if (protocol !== 'http:' && protocol !== 'https:') throw new UsageError(`${takes}; got a ${protocol} URL`)
}

/** `--cluster`'s node URLs; UsageError unless each is a redis:// or rediss:// URL. */
export function clusterUrls(value: string): string[] {
  const urls = value.split(',').map((url) => url.trim())
  for (const url of urls) {
    if (!URL.canParse(url) || !['redis:', 'rediss:'].includes(new URL(url).protocol)) {
      throw new UsageError(`--cluster takes comma-separated redis:// or rediss:// URLs; got ${JSON.stringify(url)}`)
    }
  }
  return urls
}

const AGE = /^(\d+(?:\.\d+)?)(s|m|h|d)?$/
const AGE_UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 }

/** `--older-than` in seconds: a number with an optional unit (s, m, h, d); a bare number is seconds. */
export function parseAge(value: string): number {
  const match = AGE.exec(value.trim())
  if (match === null) throw new UsageError(`--older-than takes an age such as 90s, 30m, 1h or 7d; got ${JSON.stringify(value)}`)
  return Number(match[1]) * (AGE_UNIT_SECONDS[match[2] ?? 's'] as number)
}
