/**
 * Turns worker results into the printed tables and the Markdown for the README (the goals verdicts
 * are in goals.ts). Pure: results in, strings out.
 */
import { CONTENDER_LABELS, KiB, MiB, type ContenderId, type Outcome, type WorkerResult } from './protocol.js'

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  readonly redis: string
  readonly undici: string
  readonly cborNative: boolean
  readonly pinning: string
  readonly allocator: string
}

export interface Settings {
  readonly repeat: number
  readonly seconds: number
  readonly warmupSeconds: number
  readonly sizes: readonly number[]
  readonly concurrencies: readonly number[]
  readonly contenders: readonly ContenderId[]
  readonly keyCounts: readonly number[]
}

/**
 * One contender in one scenario: the best of its runs by hits/s (with that run's latency and RSS), and
 * every run's hits/s so the spread shows how much the machine wobbled.
 */
export type Cell =
  | { readonly ok: true; readonly result: WorkerResult; readonly runs: readonly number[] }
  | { readonly ok: false; readonly error: string }

/** Best run by hits/s; a failure only when every run failed. */
export function combine(outcomes: readonly Outcome[]): Cell {
  const results = outcomes.flatMap((o) => (o.ok ? [o.result] : []))
  const best = results.reduce<WorkerResult | undefined>((a, b) => (a === undefined || b.hitsPerSecond > a.hitsPerSecond ? b : a), undefined)
  if (best === undefined) {
    const failure = outcomes.find((o) => !o.ok)
    return { ok: false, error: failure?.ok === false ? failure.error : 'not run' }
  }
  return { ok: true, result: best, runs: results.map((r) => r.hitsPerSecond) }
}

/** (max − min) / max of the runs' hits/s, or '' for a single run. */
function spread(cell: Cell): string {
  if (!cell.ok || cell.runs.length < 2) return ''
  const max = Math.max(...cell.runs)
  return `${(((max - Math.min(...cell.runs)) / max) * 100).toFixed(0)}%`
}

export interface GroupResult {
  readonly size: number
  readonly concurrency: number
  readonly cells: ReadonlyMap<ContenderId, Cell>
}

export interface KeyCountResult {
  /** Unrelated keys the scenario asked for. */
  readonly unrelated: number
  /** DBSIZE when measured: the unrelated keys plus the bench's own entries. */
  readonly dbsize: number
  readonly cells: ReadonlyMap<ContenderId, Cell>
}

export function sizeLabel(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`
  return `${bytes} B`
}

export const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const ms = (n: number): string => (n < 10 ? n.toFixed(3) : n < 100 ? n.toFixed(2) : n.toFixed(1))
export const mib = (kib: number): string => (kib / 1024).toFixed(1)
export const pct = (ratio: number): string => `${(ratio * 100).toFixed(0)}%`

function floorOf(cells: ReadonlyMap<ContenderId, Cell>): WorkerResult | undefined {
  const floor = cells.get('floor')
  return floor?.ok === true ? floor.result : undefined
}

/** What went wrong besides the numbers: origin requests while measuring hits, errors, cache reports. */
function remarks(result: WorkerResult): string {
  const notes: string[] = []
  if (result.contender !== 'undici' && result.originRequests > 0) notes.push(`${int(result.originRequests)} origin requests while measuring!`)
  if (result.errors > 0) notes.push(`${result.errors} errors (${result.firstError ?? ''})`)
  if (result.cacheErrors > 0) notes.push(`${result.cacheErrors} onError (${result.firstCacheError ?? ''})`)
  return notes.join('; ')
}

const HEADINGS = ['contender', 'hits/s', 'spread', 'p50 ms', 'p99 ms', 'peak RSS MiB', 'RSS rise MiB', 'vs floor', 'notes']

function rowOf(id: ContenderId, cell: Cell, floor: WorkerResult | undefined): string[] {
  if (!cell.ok) return [CONTENDER_LABELS[id], 'failed', '', '', '', '', '', '', cell.error]
  const r = cell.result
  return [
    CONTENDER_LABELS[id],
    int(r.hitsPerSecond),
    spread(cell),
    ms(r.p50Ms),
    ms(r.p99Ms),
    mib(r.peakRssKiB),
    mib(r.rssRiseKiB),
    floor === undefined ? '' : pct(r.hitsPerSecond / floor.hitsPerSecond),
    remarks(r),
  ]
}

export function textTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? []
  // Numbers right-aligned, names and notes left-aligned.
  const last = widths.length - 1
  return rows
    .map((row) => row.map((text, column) => (column === 0 || column === last ? text.padEnd(widths[column] ?? 0) : text.padStart(widths[column] ?? 0))).join('  ').trimEnd())
    .join('\n')
}

const TEXT_COLUMNS = new Set(['body', 'contender', 'notes'])

export function markdownTable(rows: readonly (readonly string[])[]): string {
  const [head, ...body] = rows
  if (head === undefined) return ''
  const align = head.map((heading) => (TEXT_COLUMNS.has(heading) ? '---' : '---:'))
  return [head, align, ...body].map((row) => `| ${row.map((text) => text.replaceAll('|', '\\|')).join(' | ')} |`).join('\n')
}

export function machineLines(machine: Machine, settings: Settings): string[] {
  return [
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(0)} GiB RAM, ${machine.os}`,
    `software: Node ${machine.node}, redis-server ${machine.redis}, undici ${machine.undici}, cbor-x native acceleration ${machine.cborNative ? 'on' : 'off'}`,
    `CPU pinning: ${machine.pinning}`,
    `workers' allocator: ${machine.allocator}`,
    `method: each run is a fresh process; ${settings.warmupSeconds} s warm-up then ${settings.seconds} s measured, C loops each awaiting one request at a time;`,
    `  each cell is the best of ${settings.repeat} interleaved run(s) by hits/s (spread = (max - min) / max), with that run's latency and RSS;`,
    `  bodies <= 1 MiB read with body.arrayBuffer(), 10 MiB bodies streamed and counted; the origin and redis-server are separate processes on the same machine;`,
    `  RSS rise = peak maxRSS - RSS after priming and a forced GC; caches limited to 64 MiB per entry (undici's MemoryCacheStore default is 5 MiB),`,
    `  commandTimeout 5000 ms for cache() (default 200 ms) so slow 10 MiB store reads are measured, not abandoned.`,
  ]
}

function groupRows(group: GroupResult, contenders: readonly ContenderId[]): string[][] {
  const floor = floorOf(group.cells)
  const rows = [HEADINGS]
  for (const id of contenders) {
    const cell = group.cells.get(id)
    if (cell !== undefined) rows.push(rowOf(id, cell, floor))
  }
  return rows
}

export function groupTable(group: GroupResult, contenders: readonly ContenderId[]): string {
  return `${sizeLabel(group.size)} body, concurrency ${group.concurrency}\n${textTable(groupRows(group, contenders))}`
}

const KEY_HEADINGS = ['unrelated keys', 'DBSIZE', 'contender', 'hits/s', 'spread', 'p50 ms', 'p99 ms', 'vs 0 keys', 'vs floor']

function keyCountRows(results: readonly KeyCountResult[], contenders: readonly ContenderId[]): string[][] {
  const rows = [KEY_HEADINGS]
  const first = results[0]
  for (const scenario of results) {
    const floor = floorOf(scenario.cells)
    for (const id of contenders) {
      const cell = scenario.cells.get(id)
      if (cell === undefined) continue
      if (!cell.ok) {
        rows.push([int(scenario.unrelated), int(scenario.dbsize), CONTENDER_LABELS[id], 'failed', '', '', '', '', cell.error])
        continue
      }
      const zero = first?.cells.get(id)
      const r = cell.result
      rows.push([
        int(scenario.unrelated),
        int(scenario.dbsize),
        CONTENDER_LABELS[id],
        int(r.hitsPerSecond),
        spread(cell),
        ms(r.p50Ms),
        ms(r.p99Ms),
        zero?.ok === true ? pct(r.hitsPerSecond / zero.result.hitsPerSecond) : '',
        floor === undefined ? '' : pct(r.hitsPerSecond / floor.hitsPerSecond),
      ])
    }
  }
  return rows
}

export function keyCountTable(results: readonly KeyCountResult[], contenders: readonly ContenderId[], size: number, concurrency: number): string {
  return `Hits with unrelated keys in Redis (${sizeLabel(size)} body, concurrency ${concurrency})\n${textTable(keyCountRows(results, contenders))}`
}

export function hitsOf(groups: readonly GroupResult[], size: number, concurrency: number, id: ContenderId): WorkerResult | undefined {
  const cell = groups.find((g) => g.size === size && g.concurrency === concurrency)?.cells.get(id)
  return cell?.ok === true ? cell.result : undefined
}

export function markdown(
  machine: Machine,
  settings: Settings,
  groups: readonly GroupResult[],
  keyCounts: readonly KeyCountResult[],
  keyCountSize: number,
  keyCountConcurrency: number,
  goalMarkdown: readonly string[],
): string {
  const lines = machineLines(machine, settings).map((line) => line.replace(/^ {2}/, ''))
  const out = [...lines.map((line) => `${line}  `), '']
  const rows: string[][] = [['body', 'C', ...HEADINGS]]
  for (const group of groups) {
    for (const row of groupRows(group, settings.contenders).slice(1)) rows.push([sizeLabel(group.size), String(group.concurrency), ...row])
  }
  out.push(markdownTable(rows), '')
  if (keyCounts.length > 0) {
    out.push(`Hits with unrelated keys in Redis (${sizeLabel(keyCountSize)} body, concurrency ${keyCountConcurrency}):`, '')
    out.push(markdownTable(keyCountRows(keyCounts, settings.contenders.filter((id) => id === 'redis' || id === 'floor'))), '')
  }
  out.push(...goalMarkdown)
  return `${out.join('\n')}\n`
}
