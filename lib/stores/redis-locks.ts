/**
 * Fleet locks on Redis (CacheStore.claim, peek, release): one short-lived string key per entry and
 * purpose (redis-layout.ts lockKey), holding the holder's random token, or NOT_STORED once the holder's
 * response turned out not storable. Each call is one Lua script over that one key, so it is atomic,
 * runs on the entry's cluster slot, and needs no driver command beyond EVAL/EVALSHA.
 */
import { createHash } from 'node:crypto'
import type { LuaScript, RedisCommands } from './redis-driver.js'
import { lockKey } from './redis-layout.js'
import type { ClaimResult, LockPurpose, LockState } from './types.js'

/** The marker value; tokens are hex, so no token equals it. */
const NOT_STORED = 'not-stored'

function script(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

// SET NX would not tell a live holder from the not-stored marker; one GET first does, atomically.
const CLAIM = script(`local v = redis.call('GET', KEYS[1])
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 'claimed' end
if v == '${NOT_STORED}' then return '${NOT_STORED}' end
return 'held'`)

const PEEK = script(`local v = redis.call('GET', KEYS[1])
if not v then return 'free' end
if v == '${NOT_STORED}' then return '${NOT_STORED}' end
return 'held'`)

// Compare and delete (or mark): a holder whose lock expired and was claimed again must not end the new one.
// A full Redis (maxmemory, noeviction) refuses the marker's SET but takes a DEL: waiters then find the
// lock free and no entry, and go on without it, instead of polling until the lock's TTL.
const RELEASE = script(`if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'stored' then redis.call('DEL', KEYS[1]) return 1 end
local marked = redis.pcall('SET', KEYS[1], '${NOT_STORED}', 'PX', ARGV[3])
if type(marked) == 'table' and marked.err then redis.call('DEL', KEYS[1]) end
return 1`)

const CLAIM_RESULTS: ReadonlySet<string> = new Set(['claimed', 'held', NOT_STORED])
const LOCK_STATES: ReadonlySet<string> = new Set(['free', 'held', NOT_STORED])

export async function claimLock(redis: RedisCommands, namespace: string, id: string, purpose: LockPurpose, token: string, ttlMs: number): Promise<ClaimResult> {
  const reply = String(await redis.script(CLAIM, [lockKey(namespace, id, purpose)], [token, String(Math.max(1, Math.ceil(ttlMs)))]))
  return checked(reply, CLAIM_RESULTS) as ClaimResult
}

export async function peekLock(redis: RedisCommands, namespace: string, id: string, purpose: LockPurpose): Promise<LockState> {
  const reply = String(await redis.script(PEEK, [lockKey(namespace, id, purpose)], []))
  return checked(reply, LOCK_STATES) as LockState
}

export async function releaseLock(redis: RedisCommands, namespace: string, id: string, purpose: LockPurpose, token: string, outcome: 'stored' | 'not-stored', ttlMs: number): Promise<void> {
  await redis.script(RELEASE, [lockKey(namespace, id, purpose)], [token, outcome, String(Math.max(1, Math.ceil(ttlMs)))])
}

/** A reply the scripts cannot give means something else answered: an error, not a state to act on. */
function checked(reply: string, known: ReadonlySet<string>): string {
  if (!known.has(reply)) throw new RangeError(`unexpected fleet lock reply ${JSON.stringify(reply.slice(0, 40))}`)
  return reply
}
