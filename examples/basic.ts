/**
 * The main job, runnable on a fresh machine: start a local origin, put the cache in front of undici's
 * global dispatcher, and fetch the same URLs twice. Uses Redis when one answers (REDIS_URL, else
 * redis://127.0.0.1:6379), the in-process memory store otherwise.
 *
 *   npm run example
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Agent, fetch, setGlobalDispatcher } from 'undici'
import { cache, MemoryStore, RedisStore, type CacheStore } from '../lib/index.js'

const ORIGIN_DELAY_MS = 50

async function main(): Promise<void> {
  let originHits = 0
  const origin = createServer((req, res) => {
    originHits++
    // A slow origin, so the difference a hit makes is visible.
    setTimeout(() => {
      const body = JSON.stringify({ path: req.url, servedAt: new Date().toISOString() })
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    }, ORIGIN_DELAY_MS)
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`

  const { store, label } = await pickStore()
  const agent = new Agent()
  setGlobalDispatcher(agent.compose(cache({ store })))
  console.log(`store: ${label}; origin: ${base} (answers after ${ORIGIN_DELAY_MS} ms)\n`)

  for (const path of ['/users/1', '/users/1', '/users/2', '/users/2', '/users/1']) {
    const started = performance.now()
    const res = await fetch(`${base}${path}`)
    const body = await res.text()
    const ms = (performance.now() - started).toFixed(1)
    const status = res.headers.get('cache-status') ?? ''
    const verdict = /; hit/.test(status) ? 'HIT ' : 'MISS'
    console.log(`${verdict} ${path.padEnd(9)} ${ms.padStart(6)} ms  age=${res.headers.get('age') ?? '-'}  ${status}  ${body.length} bytes`)
  }
  console.log(`\norigin saw ${originHits} requests for 5 fetches`)

  if (store instanceof RedisStore) await store.clear()
  await store.close()
  await agent.close()
  origin.close()
}

/** A RedisStore if Redis answers within a second, else the memory store. */
async function pickStore(): Promise<{ store: CacheStore; label: string }> {
  const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'
  const redis = new RedisStore({ url, namespace: 'undici-redis-cache-example' })
  const deadline = Date.now() + 1000
  while (Date.now() < deadline) {
    try {
      await redis.get(['0'])
      await redis.clear()
      return { store: redis, label: `RedisStore at ${url} (namespace undici-redis-cache-example)` }
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  await redis.close()
  return { store: new MemoryStore(), label: `MemoryStore (no Redis answered at ${url})` }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
