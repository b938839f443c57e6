/**
 * The Lua scripts behind RedisStore's indexes (redis-index.ts). Every key comes in KEYS, never built
 * inside Lua, so node-redis 6's `keyPrefix` applies to them and Redis Cluster can route each script to
 * the one node holding its slot (on a cluster, each script's KEYS share one hash tag).
 *
 * Scores are expiries on Redis' clock: WRITE_INDEX reads TIME itself and takes only the value's TTL
 * from its caller, so processes whose clocks disagree score and prune alike (with the caller's clock,
 * one running ahead pruned the others' live members, and one running behind scored its own members as
 * already expired). A value kept without TTL is scored KEEP_FLOOR + now: above every real expiry, so
 * no prune takes it, yet unique per write like every other score, since a score is also its member's
 * version (redis-index.ts: a delete removes a member only if its score is still the one it read).
 * Numbers go to redis.call through string.format('%.0f'): Lua's tostring keeps 14 significant digits,
 * which would round scores of 16.
 *
 * ZADD … GT and ZMSCORE need Redis 6.2 or later; scripts calling TIME before writing need effects
 * replication, the default since Redis 5.
 */
import { createHash } from 'node:crypto'
import type { LuaScript } from './redis-driver.js'

/** Expired members one write removes from each index it touches: bounds the script's work. */
export const PRUNE = 100

/**
 * Added to the write time (epoch ms) to score a value kept without TTL: about year 33,700 as an
 * expiry, far above any real one, and still an integer a double holds exactly (below 2^53).
 */
export const KEEP_FLOOR = 1e15

function script(source: string): LuaScript {
  // Redis names a cached script by the SHA-1 of its source (EVALSHA).
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * Indexes one write. ARGV: px (the value's TTL in ms, '' when kept without TTL), score ('' to stamp
 * one here; given, the score another script of the same write stamped), entry id, URL ('' for none),
 * storedAt ('' for none). KEYS: when a URL is given, its index, its origin's URLs (lex) and its
 * origin's URL expiries; when storedAt is given, the age bucket (by storedAt) and its expiries; then
 * every tag's index. Returns the score.
 *
 * First it prunes up to PRUNE members whose expiry passed from each index, so an index written to
 * keeps only about what is live however long it stays busy; then it adds its members and stretches
 * each key's TTL to cover them, so an index nobody writes to any more leaves with its last entry. The
 * origin's expiry of a URL only rises (GT), so it is never below any of the URL's entries: a URL
 * pruned from its origin has no live entry left.
 */
export const WRITE_INDEX = script(`
local px, given, id, url, storedAt = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local function num(x) return string.format('%.0f', x) end
local urls, ages, tags, k = nil, nil, {}, 1
if url ~= '' then urls = { KEYS[1], KEYS[2], KEYS[3] }; k = 4 end
if storedAt ~= '' then ages = { KEYS[k], KEYS[k + 1] }; k = k + 2 end
for i = k, #KEYS do tags[#tags + 1] = KEYS[i] end
-- The keys holding the id itself, scored by its expiry: its version in each.
local own = {}
if urls then own[#own + 1] = urls[1] end
if ages then own[#own + 1] = ages[2] end
for _, key in ipairs(tags) do own[#own + 1] = key end

local score = tonumber(given)
if not score then
  if px == '' then score = ${KEEP_FLOOR} + now else score = now + tonumber(px) end
  -- A rewrite within the same millisecond and with the same TTL would find its old score: one more
  -- millisecond keeps every write's version apart.
  local clash = true
  while clash do
    clash = false
    for _, key in ipairs(own) do
      local old = redis.call('ZSCORE', key, id)
      if old and tonumber(old) == score then score = score + 1; clash = true end
    end
  end
end

-- Up to ${PRUNE} members of the expiry-scored set 'scores' that expired before now leave it, and 'also'.
local function prune(scores, also)
  local gone = redis.call('ZRANGEBYSCORE', scores, '-inf', '(' .. num(now), 'LIMIT', 0, ${PRUNE})
  if #gone > 0 then
    redis.call('ZREM', scores, unpack(gone))
    if also then redis.call('ZREM', also, unpack(gone)) end
  end
end
-- Adds 'member' scored 'value', and makes 'key' live as long as its longest member: TTL max(its PTTL before, px);
-- none for a value kept without TTL. A key without TTL (-1) keeps none: it holds such a value.
local function add(key, gt, value, member)
  local before = redis.call('PTTL', key)
  if gt then redis.call('ZADD', key, 'GT', value, member) else redis.call('ZADD', key, value, member) end
  if px == '' then
    redis.call('PERSIST', key)
  elseif before == -2 or (before >= 0 and before < tonumber(px)) then
    redis.call('PEXPIRE', key, px)
  end
end

if urls then prune(urls[1]); prune(urls[3], urls[2]) end
if ages then prune(ages[2], ages[1]) end
for _, key in ipairs(tags) do prune(key) end
if urls then
  add(urls[1], false, num(score), id)
  add(urls[2], false, '0', url)
  add(urls[3], true, num(score), url)
end
if ages then
  add(ages[1], false, storedAt, id)
  add(ages[2], false, num(score), id)
end
for _, key in ipairs(tags) do add(key, false, num(score), id) end
return num(score)
`)

/**
 * Removes the (id, version) pairs of ARGV from `first` on: from every key of `keys` where the id's
 * score in keys[1] is still that version, and whatever its score where the version is ''. Returns
 * how many left keys[1]. One ZMSCORE and one ZREM per key for all the ids, 1000 at a time (unpack()
 * is bounded by Lua's stack).
 */
const UNINDEX_PAIRS = `
local function each(list, call)
  for i = 1, #list, 1000 do call(unpack(list, i, math.min(i + 999, #list))) end
end
local function unindex(keys, first)
  local ids, versions, scores, gone, removed = {}, {}, {}, {}, 0
  for i = first, #ARGV - 1, 2 do ids[#ids + 1] = ARGV[i]; versions[#versions + 1] = ARGV[i + 1] end
  each(ids, function(...)
    for _, score in ipairs(redis.call('ZMSCORE', keys[1], ...)) do scores[#scores + 1] = score end
  end)
  for i, id in ipairs(ids) do
    if versions[i] == '' or (scores[i] and tonumber(scores[i]) == tonumber(versions[i])) then gone[#gone + 1] = id end
  end
  for k, key in ipairs(keys) do
    each(gone, function(...)
      local count = redis.call('ZREM', key, ...)
      if k == 1 then removed = removed + count end
    end)
  end
  return removed
end
`

/**
 * KEYS: the index whose scores are compared (a tag's, a URL's, an age bucket's expiries), then the
 * keys the same ids also leave (the age bucket by storedAt). ARGV: (id, version) pairs.
 */
export const UNINDEX = script(`${UNINDEX_PAIRS}
return unindex(KEYS, 1)
`)

/**
 * KEYS: the URL's index, its origin's URLs, its origin's URL expiries. ARGV: URL, (id, version)
 * pairs. Removes the ids, and the URL from its origin once no id is left, in one step: a write adding
 * an id for the URL meanwhile cannot be lost between the check and the removal.
 */
export const UNINDEX_URL = script(`${UNINDEX_PAIRS}
local removed = unindex({ KEYS[1] }, 2)
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return removed
`)

/**
 * KEYS: an age bucket (by storedAt), its expiries. ARGV: the exclusive upper bound (`(<time>`), a
 * count. The first `count` members stored before then, oldest first, as a flat list of (id, storedAt,
 * expiry) with '' for an id missing from the expiries: the expiry is the version an unindex compares.
 */
export const READ_AGE = script(`
local read = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
if #read == 0 then return {} end
local ids = {}
for i = 1, #read, 2 do ids[#ids + 1] = read[i] end
local expiries = redis.call('ZMSCORE', KEYS[2], unpack(ids))
local out = {}
for i, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = read[2 * i]
  out[#out + 1] = expiries[i] or ''
end
return out
`)

/**
 * KEYS: an origin's URLs, its URL expiries, then the index of each URL in ARGV. Removes from the
 * origin each URL whose index is gone (Redis deletes a sorted set with its last member), checked and
 * removed in one step as UNINDEX_URL does. Returns how many URLs it removed.
 */
export const PRUNE_ORIGIN = script(`
local removed = 0
for i, url in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[2 + i]) == 0 then
    redis.call('ZREM', KEYS[1], url)
    redis.call('ZREM', KEYS[2], url)
    removed = removed + 1
  end
end
return removed
`)
