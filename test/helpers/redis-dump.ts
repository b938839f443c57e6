/**
 * Reads back everything a test Redis holds, as raw bytes, to prove that a secret reached none of it.
 */
import assert from 'node:assert/strict'
import { createClient } from 'redis'
import type { RedisServer } from './redis-server.js'

/**
 * Every key in the fixture Redis (every database SCAN reaches from db 0) and every value under it,
 * whatever its type, as raw bytes; on a cluster (redis-cluster.ts asServer()), of every master.
 */
export async function dumpRedis(redis: RedisServer): Promise<Buffer[]> {
  if ('masters' in redis && typeof redis.masters === 'function') {
    const masters = await (redis as { masters(): Promise<RedisServer[]> }).masters()
    return (await Promise.all(masters.map((master) => dumpRedis(master)))).flat()
  }
  const client = createClient({ url: redis.url })
  client.on('error', () => {})
  await client.connect()
  const raw = { returnBuffers: true } as const
  const out: Buffer[] = []
  try {
    let cursor = '0'
    do {
      const [next, keys] = await client.sendCommand<[Buffer, Buffer[]]>(['SCAN', cursor, 'MATCH', '*', 'COUNT', '1000'], raw)
      cursor = next.toString()
      for (const key of keys) {
        out.push(key)
        const type = String(await client.sendCommand<string>(['TYPE', key]))
        const read: Record<string, Array<string | Buffer>> = {
          string: ['GET', key],
          hash: ['HGETALL', key],
          list: ['LRANGE', key, '0', '-1'],
          set: ['SMEMBERS', key],
          zset: ['ZRANGE', key, '0', '-1', 'WITHSCORES'],
        }
        // Gone between SCAN and TYPE: a short-lived key (a fleet lock released meanwhile, redis-locks.ts).
        if (type === 'none') continue
        const command = read[type]
        assert.ok(command !== undefined, `unexpected Redis type ${type} at ${key.toString()}`)
        const reply = await client.sendCommand<Buffer | Buffer[] | null>(command, raw)
        if (reply === null) continue
        if (Buffer.isBuffer(reply)) out.push(reply)
        else out.push(...reply)
      }
    } while (cursor !== '0')
  } finally {
    await client.quit()
  }
  return out
}

/**
 * Asserts no key or value in the fixture Redis holds any of `secrets` (plain, hex or base64). `control`
 * is a string the stored entries do hold (the request path), proving the search reads what was stored.
 */
export async function assertNowhereInRedis(redis: RedisServer, control: string, secrets: readonly string[]): Promise<void> {
  const blobs = await dumpRedis(redis)
  assert.ok(blobs.some((blob) => blob.includes(control)), `nothing in Redis mentions ${control}: the search would prove nothing`)
  for (const value of secrets) {
    const forms = [value, Buffer.from(value).toString('hex'), Buffer.from(value).toString('base64')]
    for (const blob of blobs) {
      for (const form of forms) {
        assert.equal(blob.includes(form), false, `secret ${value} found in Redis: ${blob.toString('latin1').slice(0, 200)}`)
      }
    }
  }
}
