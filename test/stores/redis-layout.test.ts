import assert from 'node:assert/strict'
import { InvalidOptionError } from '../../lib/errors.js'
import { clusterSlot, idFromKey, isBodyId, redisKey, scanPattern, tagIndexKey, validateNamespace } from '../../lib/stores/redis-layout.js'

describe('redis-layout redisKey / idFromKey', () => {
  const table: [name: string, namespace: string, id: string, key: string][] = [
    ['primary only', 'http_cache', 'ab12', 'http_cache:{ab12}'],
    ['primary and variant', 'http_cache', 'ab12.cd34', 'http_cache:{ab12}:cd34'],
    ['namespace with colons', 'app:v2:cache', '0f', 'app:v2:cache:{0f}'],
    ['namespace with glob characters', 'a*b?[c]\\d', '9.8', 'a*b?[c]\\d:{9}:8'],
    ['64-digit primary', 'n', 'f'.repeat(64), `n:{${'f'.repeat(64)}}`],
    ['body of a primary entry', 'http_cache', 'ab12~0f0f', 'http_cache:{ab12}~0f0f'],
    ['body of a variant', 'http_cache', 'ab12.cd34~0f0f', 'http_cache:{ab12}:cd34~0f0f'],
  ]
  for (const [name, namespace, id, key] of table) {
    it(`${name}: ${id} ↔ ${key}`, () => {
      assert.equal(redisKey(namespace, id), key)
      assert.equal(idFromKey(namespace, key), id)
    })
  }
})

describe('redis-layout redisKey rejects malformed ids', () => {
  const ids: [name: string, id: string][] = [
    ['empty', ''],
    ['uppercase hex', 'AB12'],
    ['not hex', 'xyz'],
    ['empty variant', 'ab.'],
    ['empty primary', '.ab'],
    ['two variants', 'ab.cd.ef'],
    ['brace inside', 'ab}:{cd'],
    ['space', 'ab cd'],
    ['empty generation', 'ab~'],
    ['non-hex generation', 'ab~xy'],
    ['two generations', 'ab~01~02'],
  ]
  for (const [name, id] of ids) {
    it(name, () => {
      assert.throws(() => redisKey('http_cache', id), RangeError)
    })
  }
})

describe('redis-layout idFromKey ignores keys that are not entries of the namespace', () => {
  const keys: [name: string, key: string][] = [
    ['another namespace', 'other:{ab12}'],
    ['a longer namespace with the same start', 'http_cache2:{ab12}'],
    ['a namespace nested under this one', 'http_cache:sub:{ab12}'],
    ['no hash tag', 'http_cache:ab12'],
    ['unclosed hash tag', 'http_cache:{ab12'],
    ['empty hash tag', 'http_cache:{}'],
    ['uppercase primary', 'http_cache:{AB12}'],
    ['text after the tag without a colon', 'http_cache:{ab12}cd'],
    ['empty variant', 'http_cache:{ab12}:'],
    ['non-hex variant', 'http_cache:{ab12}:meta'],
    ['two variants', 'http_cache:{ab12}:cd:ef'],
    ['bare namespace', 'http_cache'],
    ['empty generation', 'http_cache:{ab12}~'],
    ['non-hex generation', 'http_cache:{ab12}:cd~zz'],
    ['generation before the variant', 'http_cache:{ab12}~01:cd'],
  ]
  for (const [name, key] of keys) {
    it(name, () => {
      assert.equal(idFromKey('http_cache', key), undefined)
    })
  }
})

describe('redis-layout scanPattern escapes glob characters', () => {
  const table: [namespace: string, pattern: string][] = [
    ['http_cache', 'http_cache:{*'],
    ['a*b', 'a\\*b:{*'],
    ['a?b', 'a\\?b:{*'],
    ['[ab]', '\\[ab\\]:{*'],
    ['a\\b', 'a\\\\b:{*'],
    ['x:y-z^', 'x:y-z^:{*'],
  ]
  for (const [namespace, pattern] of table) {
    it(`${namespace} → ${pattern}`, () => {
      assert.equal(scanPattern(namespace), pattern)
    })
  }
})

describe('redis-layout validateNamespace', () => {
  for (const good of ['http_cache', 'a', 'app:cache', 'a*b', 'ünï']) {
    it(`accepts ${JSON.stringify(good)}`, () => {
      assert.equal(validateNamespace(good), good)
    })
  }
  const bad: [name: string, value: unknown][] = [
    ['empty', ''],
    ['opening brace', 'a{b'],
    ['closing brace', 'a}b'],
    ['space', 'a b'],
    ['tab', 'a\tb'],
    ['newline', 'a\n'],
    ['number', 42],
    ['undefined', undefined],
  ]
  for (const [name, value] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => validateNamespace(value),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'namespace',
      )
    })
  }
})

describe('redis-layout isBodyId', () => {
  it('tells body ids from entry and pointer ids', () => {
    assert.equal(isBodyId('ab12~0f'), true)
    assert.equal(isBodyId('ab12.cd~0f'), true)
    assert.equal(isBodyId('ab12'), false)
    assert.equal(isBodyId('ab12.cd'), false)
  })
})

describe('redis-layout clusterSlot', () => {
  // Values from CLUSTER KEYSLOT on Redis 7 (the cluster suite checks more against a live cluster).
  const slots: [key: string, slot: number][] = [
    ['123456789', 12739], // the CRC16-XMODEM check value 0x31c3
    ['foo', 12182],
    ['{user1000}.following', 3443],
    ['a{}b', 13694], // an empty tag hashes the whole key
    ['}{x}', 16287],
    ['x{{y}}', 15133], // the tag runs from the first { to the next }: "{y"
    ['héllo{é}', 10180], // bytes of UTF-8
  ]
  for (const [key, slot] of slots) it(`puts ${JSON.stringify(key)} in slot ${slot}`, () => assert.equal(clusterSlot(key), slot))

  it("puts every key of one entry in one slot, and each index key in its tag's", () => {
    const slot = clusterSlot(redisKey('ns', 'ab12'))
    for (const id of ['ab12.cd34', 'ab12~1f', 'ab12.cd34~2']) assert.equal(clusterSlot(redisKey('ns', id)), slot, id)
    assert.equal(clusterSlot(`${tagIndexKey('ns', 'x')}:more`), clusterSlot(tagIndexKey('ns', 'x')))
  })
})
