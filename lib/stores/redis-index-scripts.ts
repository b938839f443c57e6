/**
 * The Lua scripts behind RedisStore's indexes (redis-index.ts), one per group of keys that share a
 * hash tag (redis-layout.ts). Every key comes in KEYS, never built inside Lua, so node-redis 6's
 * `keyPrefix` applies to them and Redis Cluster can route each script to the one node holding its slot.
 *
 * The write scripts take ARGV `now` (the store clock, epoch ms), `expiry` (epoch ms, or `+inf` for a
 * value kept without TTL), `px` (the value's TTL in ms, or '' when it has none), then their members.
 * Each first prunes up to PRUNE members whose expiry passed, so an index written to keeps only about
 * what is live, however long it stays busy, then adds its member and stretches the key's TTL to
 * cover it, so an index nobody writes to any more leaves with its last entry.
 *
 * WRITE_URL's `ZADD … GT` needs Redis 6.2 or later.
 */
import { createHash } from 'node:crypto'
import type { LuaScript } from './redis-driver.js'

/** Expired members one write removes from each index it touches: bounds the script's work. */
export const PRUNE = 100

const PRELUDE = `
local now, expiry, px = ARGV[1], ARGV[2], ARGV[3]
-- Up to ${PRUNE} members of the expiry-scored set 'scores' that expired before now leave it, and 'also'.
local function prune(scores, also)
  local gone = redis.call('ZRANGEBYSCORE', scores, '-inf', '(' .. now, 'LIMIT', 0, ${PRUNE})
  if #gone > 0 then
    redis.call('ZREM', scores, unpack(gone))
    if also then redis.call('ZREM', also, unpack(gone)) end
  end
end
-- 'key' lives as long as its longest member: TTL max(its PTTL 'before' the write, px); none for a value
-- kept without TTL. A key without TTL (-1) keeps none: it holds such a value.
local function cover(key, before)
  if px == '' then
    redis.call('PERSIST', key)
  elseif before == -2 or (before >= 0 and before < tonumber(px)) then
    redis.call('PEXPIRE', key, px)
  end
end
`

function script(source: string): LuaScript {
  // Redis names a cached script by the SHA-1 of its source (EVALSHA).
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * KEYS: the URL's index, its origin's URLs (lex), its origin's URL expiries. ARGV: now, expiry, px,
 * entry id, URL. The origin's expiry of a URL only rises, so it is never below any of the URL's
 * entries: a URL pruned from the origin has no live entry left.
 */
export const WRITE_URL = script(`${PRELUDE}
prune(KEYS[1])
prune(KEYS[3], KEYS[2])
local before = { redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2]), redis.call('PTTL', KEYS[3]) }
redis.call('ZADD', KEYS[1], expiry, ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[5])
redis.call('ZADD', KEYS[3], 'GT', expiry, ARGV[5])
for i = 1, 3 do cover(KEYS[i], before[i]) end
`)

/** KEYS: the tag's index. ARGV: now, expiry, px, entry id. */
export const WRITE_TAG = script(`${PRELUDE}
prune(KEYS[1])
local before = redis.call('PTTL', KEYS[1])
redis.call('ZADD', KEYS[1], expiry, ARGV[4])
cover(KEYS[1], before)
`)

/** KEYS: the age bucket (by storedAt), its expiries. ARGV: now, expiry, px, entry id, storedAt. */
export const WRITE_AGE = script(`${PRELUDE}
prune(KEYS[2], KEYS[1])
local before = { redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2]) }
redis.call('ZADD', KEYS[1], ARGV[5], ARGV[4])
redis.call('ZADD', KEYS[2], expiry, ARGV[4])
for i = 1, 2 do cover(KEYS[i], before[i]) end
`)

/**
 * KEYS: the URL's index, its origin's URLs, its origin's URL expiries. ARGV: URL, entry ids. Removes
 * the ids, and the URL from its origin once no id is left, in one step: a write adding an id for the
 * URL meanwhile cannot be lost between the check and the removal.
 */
export const UNINDEX_URL = script(`
for i = 2, #ARGV, 1000 do redis.call('ZREM', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
`)
