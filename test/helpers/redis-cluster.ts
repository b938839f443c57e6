/**
 * A throwaway Redis Cluster for tests: 3 masters and 3 replicas, each a redis-server from
 * redis-server.ts (own free loopback port, never 6379; its cluster bus on port + 10000), joined with
 * `redis-cli --cluster create`. A short `cluster-node-timeout` makes a killed master's replica take
 * over within a couple of seconds. Every node is killed when the test process exits.
 */
import { execFile } from 'node:child_process'
import { startRedis, type RedisServer } from './redis-server.js'

export interface RedisCluster {
  /** Every node, masters first as created (roles change after a failover: see masters()). */
  readonly nodes: readonly RedisServer[]
  /** For `createCluster({ rootNodes })`: every node's URL. */
  readonly rootNodes: readonly { readonly url: string }[]
  /** The nodes that are masters now, by CLUSTER NODES as the first live node sees it. */
  masters(): Promise<RedisServer[]>
  /** The node serving `slot` as master now. */
  masterOf(slot: number): Promise<RedisServer>
  /** Resolves once every live node says `cluster_state:ok` and agrees on the masters, or rejects after `timeoutMs`. */
  settled(timeoutMs?: number): Promise<void>
  /** Runs `redis-cli -c -p <a live node> ...args` (cluster mode: follows redirections). */
  cli(...args: string[]): Promise<string>
  /**
   * Records that `node` was killed or paused on purpose: the helpers no longer ask it. A paused node
   * (SIGSTOP) still accepts connections and never answers, so asking it would cost each call a timeout.
   */
  markDown(node: RedisServer): void
  stop(): Promise<void>
}

const NODE_TIMEOUT_MS = 1000
const SETTLE_TIMEOUT_MS = 20_000
const CLI_TIMEOUT_MS = 20_000

/** Starts the cluster and waits until it serves every slot with each master's replica in sync. */
export async function startRedisCluster(options: { readonly masters?: number; readonly replicas?: number } = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3
  const replicas = options.replicas ?? 1
  const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(NODE_TIMEOUT_MS)]
  const nodes = await Promise.all(Array.from({ length: masters * (1 + replicas) }, () => startBusReady(args)))
  const cluster = new Cluster(nodes)
  try {
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'])
    await cluster.settled()
    return cluster
  } catch (error) {
    await cluster.stop()
    throw error
  }
}

/** A node whose cluster bus port (port + 10000) is valid; startRedis retries a port whose bus is taken. */
async function startBusReady(args: readonly string[]): Promise<RedisServer> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const node = await startRedis({ args: [...args] })
    if (node.port + 10_000 <= 65_535) return node
    await node.stop()
  }
  throw new Error('no free port with room for its cluster bus port')
}

class Cluster implements RedisCluster {
  readonly rootNodes: readonly { readonly url: string }[]
  readonly #down = new Set<RedisServer>()

  constructor(readonly nodes: readonly RedisServer[]) {
    this.rootNodes = nodes.map((node) => ({ url: node.url }))
  }

  async masters(): Promise<RedisServer[]> {
    return (await this.#table()).filter((row) => row.master && row.slots.length > 0).map((row) => row.node)
  }

  async masterOf(slot: number): Promise<RedisServer> {
    const row = (await this.#table()).find((entry) => entry.master && entry.slots.some(([from, to]) => slot >= from && slot <= to))
    if (row === undefined) throw new Error(`no master serves slot ${slot}`)
    return row.node
  }

  async settled(timeoutMs = SETTLE_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let last = ''
    while (Date.now() < deadline) {
      try {
        const live = await this.#live()
        const infos = await Promise.all(live.map((node) => node.cli('CLUSTER', 'INFO')))
        const tables = await Promise.all(live.map((node) => node.cli('CLUSTER', 'NODES')))
        const masterSets = tables.map((table) => mastersIn(table).join(' '))
        const synced = await this.#replicasSynced(live)
        if (infos.every((info) => info.includes('cluster_state:ok')) && new Set(masterSets).size === 1 && synced) return
        last = `${infos.map((info) => /cluster_state:\w+/.exec(info)?.[0]).join(', ')}; masters seen: ${[...new Set(masterSets)].join(' | ')}; replicas synced: ${synced}`
      } catch (error) {
        last = String(error)
      }
      await delay(100)
    }
    throw new Error(`the cluster did not settle within ${timeoutMs} ms: ${last}`)
  }

  cli(...args: string[]): Promise<string> {
    return this.#live().then(([node]) => run('redis-cli', ['-c', '-p', String(node!.port), ...args]))
  }

  /** Records that `node` was killed on purpose, so the helpers ask the others. */
  markDown(node: RedisServer): void {
    this.#down.add(node)
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()))
  }

  async #live(): Promise<RedisServer[]> {
    const candidates = this.nodes.filter((node) => !this.#down.has(node))
    const answers = await Promise.all(candidates.map((node) => node.cli('PING').then((reply) => reply === 'PONG', () => false)))
    return candidates.filter((_node, index) => answers[index] === true)
  }

  /** Every replica of a live master reports its link up and its offset caught up. */
  async #replicasSynced(live: readonly RedisServer[]): Promise<boolean> {
    const infos = await Promise.all(live.map((node) => node.cli('INFO', 'replication')))
    return infos.every((info) => !info.includes('role:slave') || (info.includes('master_link_status:up') && !info.includes('master_sync_in_progress:1')))
  }

  async #table(): Promise<{ node: RedisServer; master: boolean; slots: [number, number][] }[]> {
    const [first] = await this.#live()
    if (first === undefined) throw new Error('no live cluster node')
    const table = await first.cli('CLUSTER', 'NODES')
    const rows = []
    for (const line of table.split('\n').filter(Boolean)) {
      const [, address, flags, , , , , , ...slotFields] = line.split(' ')
      if (flags === undefined || address === undefined || flags.includes('fail')) continue
      const port = Number(/:(\d+)@/.exec(address)?.[1])
      const node = this.nodes.find((candidate) => candidate.port === port)
      if (node === undefined) continue
      const slots = slotFields.filter((field) => /^\d+(-\d+)?$/.test(field)).map((field): [number, number] => {
        const [from, to = from] = field.split('-').map(Number) as [number, number?]
        return [from, to as number]
      })
      rows.push({ node, master: flags.includes('master'), slots })
    }
    return rows
  }
}

/** The ports of the masters serving slots in a CLUSTER NODES table, sorted (to compare views). */
function mastersIn(table: string): string[] {
  return table
    .split('\n')
    .filter((line) => {
      const fields = line.split(' ')
      return fields[2]?.includes('master') === true && !fields[2].includes('fail') && fields.length > 8
    })
    .map((line) => line.split(' ')[1] ?? '')
    .sort()
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: CLI_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`))
      else resolve(stdout.replace(/\n$/, ''))
    })
  })
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The cluster seen as one RedisServer: see asServer(). */
export interface ClusterServer extends RedisServer {
  /** The masters now, each a RedisServer of its own (dumpRedis reads each). */
  masters(): Promise<RedisServer[]>
  /** Every node's URL, for `createCluster({ rootNodes })` and the CLI's `--cluster`. */
  readonly rootNodes: readonly { readonly url: string }[]
}

/**
 * The cluster as one RedisServer, for tests written against one redis-server (test/helpers/stores.ts
 * under URC_STORE=cluster): cli() follows redirections (`redis-cli -c`), and `--scan` walks every
 * master, so a test reading keys back finds them wherever they went. `url` and `port` name the first
 * node. pause() and resume() stall every node; kill() and restart() are refused, as on one node of a
 * cluster they are a failover (test/cluster/) rather than the outage the caller means.
 */
export function asServer(cluster: RedisCluster): ClusterServer {
  const [first] = cluster.nodes
  if (first === undefined) throw new Error('a cluster without nodes')
  const notHere = (name: string) => (): never => {
    throw new Error(`${name}() is not available on the cluster view: use the RedisCluster's nodes`)
  }
  return {
    port: first.port,
    url: first.url,
    rootNodes: cluster.rootNodes,
    masters: () => cluster.masters(),
    async cli(...args: string[]): Promise<string> {
      if (args[0] !== '--scan') return cluster.cli(...args)
      const masters = await cluster.masters()
      const pages = await Promise.all(masters.map((master) => master.cli(...args)))
      return pages.filter((page) => page !== '').join('\n')
    },
    stop: () => cluster.stop(),
    kill: notHere('kill'),
    restart: notHere('restart'),
    pause: () => cluster.nodes.forEach((node) => node.pause()),
    resume: () => cluster.nodes.forEach((node) => node.resume()),
  }
}
