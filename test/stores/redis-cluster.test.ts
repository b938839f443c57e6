/**
 * RedisStore on a real Redis Cluster (issue 15): 3 masters and 3 replicas on loopback, started once
 * for this file (test/helpers/redis-cluster.ts). The store contract and its indexed deletes on the
 * store's own cluster client; entries spread over every master and the walks (entries, stats, clear)
 * seeing all of them; clients of node-redis 4, 5 and 6 borrowed and never closed; the options; the CLI.
 * Outside `npm test` (about 6 s to start the cluster): `npm run test:cluster`.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, createServer } from 'node:net'
import { createCluster as createCluster4 } from 'redis'
import { createCluster as createCluster5 } from 'redis5'
import { createCluster as createCluster6 } from 'redis6'
import { main } from '../../lib/cli/main.js'
import { InvalidOptionError, StoreError } from '../../lib/errors.js'
import { ageIndexKeys, clusterSlot, redisKey, tagIndexKey, urlIndexKey } from '../../lib/stores/redis-layout.js'
import { RedisStore, type RedisStoreOptions } from '../../lib/stores/redis-store.js'
import type { StoreWrite } from '../../lib/stores/types.js'
import { ManualClock } from '../helpers/clock.js'
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js'
import { freePort } from '../helpers/redis-server.js'
import { collect, decode, sleep, storeContract, storedResponse, text } from './store-contract.js'

/** Starting 6 redis-servers and joining them takes about 6 s; on a loaded machine, more. */
const CLUSTER_START_TIMEOUT_MS = 60_000

describe('RedisStore on a Redis Cluster', function () {
  let cluster: RedisCluster
  let namespaces = 0
  const stores: RedisStore[] = []

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS)
    cluster = await startRedisCluster()
  })

  after(async function () {
    this.timeout(20_000)
    await cluster?.stop()
  })

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()))
  })

  function rootNodes(): { url: string }[] {
    return cluster.rootNodes.map(({ url }) => ({ url }))
  }

  /** A store with its own cluster client, under a namespace no other test uses. */
  async function openStore(options: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
    const store = new RedisStore({ cluster: { rootNodes: rootNodes() }, namespace: `cluster${++namespaces}`, ...options } as RedisStoreOptions)
    await store.ready()
    return store
  }

  /** `namespace`'s keys on each master now, by a SCAN of that master alone. */
  async function keysPerMaster(namespace: string): Promise<string[][]> {
    const masters = await cluster.masters()
    return Promise.all(masters.map(async (master) => (await master.cli('--scan', '--pattern', `${namespace}:*`)).split('\n').filter(Boolean)))
  }

  /** An entry write indexed under `url`, with a fresh random id (so the ids' slots spread). */
  function entryWrite(url: string, tags: string[] = []): StoreWrite {
    const id = randomBytes(16).toString('hex')
    return { id, value: storedResponse(url), ttlMs: 600_000, index: { url, tags, storedAt: Date.now() } }
  }

  // The contract checks expiry at ttlMs exactly on the servers' clocks, as for one redis-server.
  storeContract('RedisStore (own cluster client)', async () => {
    const clock = new ManualClock()
    const store = await openStore({ ttlOffset: 0, clock })
    return { store, clock, expiry: 'server', cleanup: () => store.close() }
  })

  describe('keys over every master', () => {
    it('computes the slot of every kind of key as the cluster does', async () => {
      const keys = [redisKey('ns', 'ab12'), redisKey('ns', 'ab12.cd34~1f'), tagIndexKey('ns', 'tag'), 'ns:stats', 'ns:{a:7}:exp', 'no-tag', '{}empty', 'héllo{wörld}']
      for (const key of keys) assert.equal(clusterSlot(key), Number(await cluster.cli('CLUSTER', 'KEYSLOT', key)), key)
    })

    it('spreads entries over all 3 masters, and entries(), stats() and clear() see every one', async () => {
      const store = await openStore()
      stores.push(store)
      const writes = Array.from({ length: 30 }, (_, index) => entryWrite(`https://example.com/${index}`))
      // One set() for all: the driver splits its MULTI per slot.
      await store.set(writes)
      const spread = await keysPerMaster(store.namespace)
      assert.equal(spread.length, 3)
      for (const keys of spread) assert.ok(keys.some((key) => /:\{[0-9a-f]{32}\}$/.test(key)), `a master holds no entry: ${spread.map((k) => k.length).join(', ')}`)
      assert.deepEqual((await collect(store.keys())).sort(), writes.map((write) => write.id).sort())
      assert.equal((await collect(store.entries())).length, 30)
      assert.equal((await store.stats()).entries, 30)
      const values = await store.get(writes.map((write) => write.id))
      assert.ok(values.every((value) => value !== undefined), 'an MGET over many slots missed a value')
      await store.clear()
      assert.deepEqual((await keysPerMaster(store.namespace)).flat(), [])
      assert.equal((await store.stats()).entries, 0)
    })

    it('deletes by URL, prefix, tag and age over index keys on every master', async () => {
      const store = await openStore()
      stores.push(store)
      const writes = Array.from({ length: 24 }, (_, index) => entryWrite(`https://site${index % 4}.example/page/${index}`, [`t${index % 3}`]))
      for (const write of writes) await store.set([write])
      assert.equal(await store.delete('https://site0.example/page/0'), 1)
      assert.equal(await store.deletePrefix('https://site1.example/'), 6)
      assert.equal(await store.deleteTags(['t2']), 8 - 2)
      assert.equal(await store.deleteOlderThan(0), 24 - 1 - 6 - 6)
      assert.deepEqual(await collect(store.keys()), [])
    })

    it('stamps one score per write in index keys on several masters, and unindexes only that write', async () => {
      const store = await openStore({ ttlOffset: 0 })
      stores.push(store)
      const ns = store.namespace
      const tags = Array.from({ length: 6 }, (_, index) => `tag-${index}`)
      const write = entryWrite('https://example.com/stamped', tags)
      const keys = [urlIndexKey(ns, 'https://example.com/stamped'), ageIndexKeys(ns, write.id).expiries, ...tags.map((tag) => tagIndexKey(ns, tag))]
      assert.ok(new Set(await Promise.all(keys.map(async (key) => (await cluster.masterOf(clusterSlot(key))).port))).size > 1, 'the index keys share one master')
      const scores = async (): Promise<string[]> => Promise.all(keys.map((key) => cluster.cli('ZSCORE', key, write.id)))
      const before = Date.now()
      await store.set([write])
      const first = await scores()
      assert.equal(new Set(first).size, 1, first.join(' '))
      assert.ok(Number(first[0]) >= before + 600_000 && Number(first[0]) <= Date.now() + 600_001, first[0])
      // Written again: a new score, in every key alike.
      await store.set([write])
      const second = await scores()
      assert.equal(new Set(second).size, 1, second.join(' '))
      assert.notEqual(second[0], first[0])
      assert.equal(await store.deleteTags(['tag-3']), 1)
      assert.deepEqual(await scores(), keys.map((key) => (key.includes('{t:') && key !== tagIndexKey(ns, 'tag-3') ? second[0] : '')), 'other tags keep it until a delete reads it')
    })

    it('sweeps the index keys on every master in deleteExpired(): none left once a `ttl: false` store\'s entries are gone', async () => {
      const store = await openStore({ ttl: false })
      stores.push(store)
      const writes = Array.from({ length: 30 }, (_, index) => entryWrite(`https://site${index % 3}.example/p/${index}`, [`t${index % 5}`]))
      await store.set(writes)
      const indexKeys = async (): Promise<string[]> => (await keysPerMaster(store.namespace)).flat().filter((key) => /:\{[oat]:/.test(key))
      assert.ok((await indexKeys()).length > 10)
      await store.remove(writes.slice(10).map((write) => write.id))
      assert.equal(await store.deleteExpired(), 0)
      const kept = writes.slice(0, 10).map((write) => write.id).sort()
      const tagged = (await Promise.all([0, 1, 2, 3, 4].map((tag) => cluster.cli('ZRANGE', tagIndexKey(store.namespace, `t${tag}`), '0', '-1')))).flatMap((reply) => reply.split('\n').filter(Boolean))
      assert.deepEqual(tagged.sort(), kept)
      await store.remove(kept)
      await store.deleteExpired()
      assert.deepEqual(await indexKeys(), [])
    })

    it('writes nothing when an index script fails: the MULTI waits for the index', async () => {
      const store = await openStore()
      stores.push(store)
      // A string where the tag's index (a sorted set) goes: WRITE_TAG fails with WRONGTYPE.
      await cluster.cli('SET', tagIndexKey(store.namespace, 'broken'), 'not a zset')
      const write = entryWrite('https://example.com/broken', ['broken'])
      await assert.rejects(store.set([write]), StoreError)
      assert.deepEqual(await store.get([write.id]), [undefined])
    })
  })

  describe('borrowed cluster clients', () => {
    const majors = [
      { major: 4, create: (rootNodes: { url: string }[]) => createCluster4({ rootNodes }), close: (client: unknown) => (client as ReturnType<typeof createCluster4>).disconnect() },
      { major: 5, create: (rootNodes: { url: string }[]) => createCluster5({ rootNodes }), close: (client: unknown) => (client as ReturnType<typeof createCluster5>).destroy() },
      { major: 6, create: (rootNodes: { url: string }[]) => createCluster6({ rootNodes }), close: (client: unknown) => (client as ReturnType<typeof createCluster6>).destroy() },
    ] as const
    for (const { major, create, close } of majors) {
      it(`uses a node-redis ${major} cluster client, connecting it if needed, and leaves it open after close()`, async () => {
        const client = create(rootNodes())
        client.on('error', () => {})
        try {
          const store = new RedisStore({ client, namespace: `borrowed${major}-${++namespaces}` } as RedisStoreOptions)
          await store.ready()
          const writes = Array.from({ length: 12 }, (_, index) => entryWrite(`https://example.com/${major}/${index}`, ['all']))
          await store.set(writes)
          const values = await store.get(writes.map((write) => write.id))
          assert.ok(values.every((value) => value !== undefined))
          assert.equal((await store.stats()).entries, 12)
          assert.equal(await store.deleteTags(['all']), 12)
          await store.set([{ id: 'ab', value: text('raw'), ttlMs: undefined }])
          assert.equal(decode(await store.getRange('ab', 1, 2)), 'aw')
          await store.clear()
          assert.deepEqual((await keysPerMaster(store.namespace)).flat(), [])
          await store.close()
          assert.equal(client.isOpen, true, 'the store closed a client it did not create')
          await client.set(`after-close-${major}`, 'still usable')
          assert.equal(await client.get(`after-close-${major}`), 'still usable')
        } finally {
          await close(client)
        }
      })
    }

    it('keeps a node-redis 6 cluster keyPrefix before the namespace, and walks only those keys', async () => {
      const client = createCluster6({ rootNodes: rootNodes(), keyPrefix: 'pfx:' })
      client.on('error', () => {})
      await client.connect()
      try {
        const namespace = `prefixed${++namespaces}`
        const store = new RedisStore({ client, namespace } as RedisStoreOptions)
        const writes = Array.from({ length: 9 }, (_, index) => entryWrite(`https://example.com/p/${index}`))
        await store.set(writes)
        const held = (await keysPerMaster(`pfx:${namespace}`)).flat()
        assert.ok(held.length >= 9 && held.every((key) => key.startsWith(`pfx:${namespace}:`)), held.join(' '))
        assert.deepEqual((await collect(store.keys())).sort(), writes.map((write) => write.id).sort())
        await store.clear()
        assert.deepEqual((await keysPerMaster(`pfx:${namespace}`)).flat(), [])
        await store.close()
      } finally {
        await client.destroy()
      }
    })
  })

  describe('options', () => {
    const refused: [name: string, options: unknown, option: string][] = [
      ['both `url` and `cluster`', { url: 'redis://127.0.0.1:1', cluster: { rootNodes: [{ url: 'redis://127.0.0.1:2' }] } }, 'url'],
      ['both `client` and `cluster`', { client: {}, cluster: { rootNodes: [{ url: 'redis://127.0.0.1:2' }] } }, 'cluster'],
      ['`cluster` without rootNodes', { cluster: {} }, 'cluster.rootNodes'],
      ['`cluster` with no root node', { cluster: { rootNodes: [] } }, 'cluster.rootNodes'],
      ['a root node with a URL that is not redis://', { cluster: { rootNodes: [{ url: 'http://127.0.0.1:2' }] } }, 'cluster.rootNodes'],
      ['`cluster` that is not an object', { cluster: 'redis://127.0.0.1:2' }, 'cluster'],
      ['`cluster.defaults` in legacyMode', { cluster: { rootNodes: [{ url: 'redis://127.0.0.1:2' }], defaults: { legacyMode: true } } }, 'cluster.defaults.legacyMode'],
    ]
    for (const [name, options, option] of refused) {
      it(`refuses ${name} with InvalidOptionError naming \`${option}\``, () => {
        assert.throws(
          () => new RedisStore(options as RedisStoreOptions),
          (error: unknown) => error instanceof InvalidOptionError && error.option === option && error.code === 'URC_ERR_INVALID_OPTION',
        )
      })
    }

    it('retries a cluster that is not up yet, and becomes ready once it is', async () => {
      // A root node nobody listens on yet: discovery fails, and the driver keeps trying.
      const port = await freePort()
      const store = new RedisStore({ cluster: { rootNodes: [{ url: `redis://127.0.0.1:${port}` }] }, namespace: `late${++namespaces}` })
      stores.push(store)
      await assert.rejects(store.ready(300), StoreError)
      await assert.rejects(store.get(['ab']), StoreError)
      // The root node comes up: a forwarder to a node of the cluster, which names the others.
      const target = cluster.nodes[0]!.port
      const forwarder = createServer((socket) => {
        const upstream = connect(target, '127.0.0.1')
        socket.pipe(upstream).pipe(socket)
        socket.on('error', () => upstream.destroy())
        upstream.on('error', () => socket.destroy())
      })
      await new Promise<void>((resolve) => forwarder.listen(port, '127.0.0.1', resolve))
      try {
        await store.ready(5000)
        await store.set([{ id: 'ab', value: text('late'), ttlMs: undefined }])
        assert.equal(decode((await store.get(['ab']))[0]), 'late')
      } finally {
        forwarder.close()
      }
    })

    it('closing a store while it discovers the cluster leaves no connection open', async () => {
      const connections = async (): Promise<number> => {
        const lists = await Promise.all(cluster.nodes.map((node) => node.cli('CLIENT', 'LIST')))
        return lists.reduce((sum, list) => sum + list.split('\n').filter(Boolean).length, 0)
      }
      const before = await connections()
      // The clock never moves: nothing but the discovery's own end may release the connections.
      for (let i = 0; i < 5; i++) await new RedisStore({ cluster: { rootNodes: rootNodes() }, namespace: 'closed-early', clock: new ManualClock() }).close()
      const started = performance.now()
      while ((await connections()) > before) {
        assert.ok(performance.now() - started < 3000, `${(await connections()) - before} connections left open by stores closed while discovering`)
        await sleep(20)
      }
    })

    it('stops retrying once closed, over a cluster that never comes up', async () => {
      const store = new RedisStore({ cluster: { rootNodes: [{ url: `redis://127.0.0.1:${await freePort()}` }] }, namespace: 'never' })
      await assert.rejects(store.ready(300), StoreError)
      await store.close()
      await assert.rejects(store.get(['ab']), StoreError)
    })
  })

  describe('CLI with --cluster', () => {
    async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      const out = { text: '', write: (chunk: string) => ((out.text += chunk), true) }
      const err = { text: '', write: (chunk: string) => ((err.text += chunk), true) }
      // No REDIS_URL: a run that ignored --cluster would fail rather than reach a developer's Redis.
      const code = await main(args, { stdout: out, stderr: err, env: { REDIS_URL: 'redis://127.0.0.1:1' } })
      return { code, stdout: out.text, stderr: err.text }
    }

    it('lists, counts and purges over every master', async () => {
      const store = await openStore()
      stores.push(store)
      const writes = Array.from({ length: 15 }, (_, index) => entryWrite(`https://example.com/cli/${index}`))
      await store.set(writes)
      const urls = cluster.rootNodes.map(({ url }) => url).join(',')
      const namespace = store.namespace
      const listed = await cli('list', '--cluster', urls, '--namespace', namespace)
      assert.equal(listed.code, 0, listed.stderr)
      assert.equal(listed.stdout.trimEnd().split('\n').length, 15)
      const stats = await cli('stats', '--cluster', cluster.rootNodes[0]!.url, '--namespace', namespace, '--json')
      assert.equal(stats.code, 0, stats.stderr)
      assert.equal((JSON.parse(stats.stdout) as { entries: number }).entries, 15)
      const one = await cli('purge', '--cluster', urls, '--namespace', namespace, '--url-match', 'https://example.com/cli/3')
      assert.deepEqual([one.code, one.stdout], [0, 'deleted 1\n'])
      const all = await cli('purge', '--all', '--cluster', urls, '--namespace', namespace)
      assert.equal(all.code, 0, all.stderr)
      assert.deepEqual((await keysPerMaster(namespace)).flat(), [])
    })

    it('exits 2 for --url with --cluster, or a --cluster URL that is not redis://', async () => {
      const both = await cli('stats', '--url', 'redis://127.0.0.1:1', '--cluster', 'redis://127.0.0.1:2')
      assert.equal(both.code, 2)
      assert.match(both.stderr, /--url and --cluster exclude each other/)
      const bad = await cli('stats', '--cluster', 'redis://127.0.0.1:2,http://x')
      assert.equal(bad.code, 2)
      assert.match(bad.stderr, /--cluster takes comma-separated redis:\/\/ or rediss:\/\/ URLs/)
    })
  })
})
