/**
 * Every bad option fails at construction with InvalidOptionError naming the option (STYLE.md §7), and
 * the error classes keep their identity across duplicate installs (the Symbol.for brand).
 */
import assert from 'node:assert/strict'
import { createClient } from 'redis'
import {
  cache,
  CacheError,
  CorruptEntryError,
  InvalidOptionError,
  BodyReadError,
  MissingOriginError,
  StoreWritesUnavailableError,
  MemoryStore,
  RedisStore,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  type CacheOptions,
  type MemoryStoreOptions,
  type RedisStoreOptions,
} from '../lib/index.js'
import { InvalidEntryError, KeyFunctionError } from '../lib/errors.js'
import { resolveTagsHeader } from '../lib/field-options.js'
import { resolveOptions } from '../lib/options.js'
import { MAX_TAG_LENGTH, MAX_TAGS } from '../lib/policy/tags.js'
import { resolveRequestOptions } from '../lib/request-options.js'

/** Asserts `build` throws an InvalidOptionError for `option`, with the option named in the message. */
function assertInvalid(build: () => unknown, option: string): void {
  assert.throws(build, (error: unknown) => {
    assert.ok(error instanceof InvalidOptionError, `not an InvalidOptionError: ${String(error)}`)
    assert.ok(error instanceof CacheError)
    assert.equal(error.code, 'URC_ERR_INVALID_OPTION')
    assert.equal(error.name, 'InvalidOptionError')
    assert.equal(error.option, option)
    assert.ok(error.message.includes(`\`${option}\``), `message does not name ${option}: ${error.message}`)
    return true
  })
}

/** Options outside the declared types, written as data: the casts are the point of these rows. */
const bad = (options: Record<string, unknown>): CacheOptions => options as CacheOptions

describe('cache(options) validation', () => {
  const rows: Array<{ name: string; options: CacheOptions; option: string }> = [
    { name: 'options is not an object', options: 'fast' as unknown as CacheOptions, option: 'options' },
    { name: 'options is an array', options: [] as unknown as CacheOptions, option: 'options' },
    { name: 'unknown key (snake_case from requests-cache)', options: bad({ expire_after: 60 }), option: 'expire_after' },
    { name: 'unknown key (typo)', options: bad({ expireafter: 60 }), option: 'expireafter' },
    { name: 'store {}', options: bad({ store: {} }), option: 'store' },
    { name: "store 'mongo'", options: bad({ store: 'mongo' }), option: 'store' },
    { name: 'store null', options: bad({ store: null }), option: 'store' },
    { name: "methods 'GET' (not an array)", options: bad({ methods: 'GET' }), option: 'methods' },
    { name: "methods ['CONNECT']", options: bad({ methods: ['GET', 'CONNECT'] }), option: 'methods' },
    { name: "methods ['trace'] (any case)", options: bad({ methods: ['trace'] }), option: 'methods' },
    { name: 'methods [1]', options: bad({ methods: [1] }), option: 'methods' },
    { name: "methods ['GE T']", options: bad({ methods: ['GE T'] }), option: 'methods' },
    { name: 'expireAfter -2', options: bad({ expireAfter: -2 }), option: 'expireAfter' },
    { name: 'expireAfter NaN', options: bad({ expireAfter: Number.NaN }), option: 'expireAfter' },
    { name: 'expireAfter Infinity (spelled never)', options: bad({ expireAfter: Infinity }), option: 'expireAfter' },
    { name: "expireAfter 'forever'", options: bad({ expireAfter: 'forever' }), option: 'expireAfter' },
    { name: 'expireAfter true', options: bad({ expireAfter: true }), option: 'expireAfter' },
    { name: "urlsExpireAfter { '*.png': 'forever' }", options: bad({ urlsExpireAfter: { '*.png': 'forever' } }), option: "urlsExpireAfter['*.png']" },
    { name: "urlsExpireAfter { 'a/*': -5 }", options: bad({ urlsExpireAfter: { 'a/*': -5 } }), option: "urlsExpireAfter['a/*']" },
    { name: 'urlsExpireAfter an array', options: bad({ urlsExpireAfter: [60] }), option: 'urlsExpireAfter' },
    { name: 'urlsExpireAfter 60', options: bad({ urlsExpireAfter: 60 }), option: 'urlsExpireAfter' },
    { name: "cacheControl 'yes'", options: bad({ cacheControl: 'yes' }), option: 'cacheControl' },
    { name: 'allowableCodes [99]', options: bad({ allowableCodes: [99] }), option: 'allowableCodes' },
    { name: 'allowableCodes [600]', options: bad({ allowableCodes: [200, 600] }), option: 'allowableCodes' },
    { name: "allowableCodes ['200']", options: bad({ allowableCodes: ['200'] }), option: 'allowableCodes' },
    { name: 'allowableCodes 200', options: bad({ allowableCodes: 200 }), option: 'allowableCodes' },
    { name: 'matchHeaders 5', options: bad({ matchHeaders: 5 }), option: 'matchHeaders' },
    { name: "matchHeaders ['']", options: bad({ matchHeaders: [''] }), option: 'matchHeaders' },
    { name: "ignoredParameters ['']", options: bad({ ignoredParameters: [''] }), option: 'ignoredParameters' },
    { name: "ignoredParameters 'api_key'", options: bad({ ignoredParameters: 'api_key' }), option: 'ignoredParameters' },
    { name: "filter 'x'", options: bad({ filter: 'x' }), option: 'filter' },
    { name: 'key 1', options: bad({ key: 1 }), option: 'key' },
    { name: 'staleIfError -1', options: bad({ staleIfError: -1 }), option: 'staleIfError' },
    { name: "staleIfError '60'", options: bad({ staleIfError: '60' }), option: 'staleIfError' },
    { name: "staleWhileRevalidate 'x'", options: bad({ staleWhileRevalidate: 'x' }), option: 'staleWhileRevalidate' },
    { name: 'staleWhileRevalidate NaN', options: bad({ staleWhileRevalidate: Number.NaN }), option: 'staleWhileRevalidate' },
    { name: "alwaysRevalidate 'yes'", options: bad({ alwaysRevalidate: 'yes' }), option: 'alwaysRevalidate' },
    { name: 'maxEntrySize 0', options: bad({ maxEntrySize: 0 }), option: 'maxEntrySize' },
    { name: 'maxEntrySize 1.5', options: bad({ maxEntrySize: 1.5 }), option: 'maxEntrySize' },
    { name: "maxEntrySize '1mb'", options: bad({ maxEntrySize: '1mb' }), option: 'maxEntrySize' },
    { name: "cacheStatus 'has space'", options: bad({ cacheStatus: 'has space' }), option: 'cacheStatus' },
    { name: "cacheStatus ''", options: bad({ cacheStatus: '' }), option: 'cacheStatus' },
    { name: 'cacheStatus 1', options: bad({ cacheStatus: 1 }), option: 'cacheStatus' },
    { name: 'commandTimeout -1', options: bad({ commandTimeout: -1 }), option: 'commandTimeout' },
    { name: 'commandTimeout 0', options: bad({ commandTimeout: 0 }), option: 'commandTimeout' },
    { name: 'collapseTimeout -1', options: bad({ collapseTimeout: -1 }), option: 'collapseTimeout' },
    { name: 'collapseTimeout 1.5', options: bad({ collapseTimeout: 1.5 }), option: 'collapseTimeout' },
    { name: 'onError 1', options: bad({ onError: 1 }), option: 'onError' },
    { name: "credentials 'secret'", options: bad({ credentials: 'a-secret-of-enough-length' }), option: 'credentials' },
    { name: 'credentials {}', options: bad({ credentials: {} }), option: 'credentials' },
    { name: 'credentials with a short secret', options: bad({ credentials: { secret: 'short' } }), option: 'credentials' },
    { name: "origins 'https://api.example.com' (not an array)", options: bad({ origins: 'https://api.example.com' }), option: 'origins' },
    { name: 'origins [1]', options: bad({ origins: [1] }), option: 'origins' },
    { name: "origins ['api.example.com'] (no scheme)", options: bad({ origins: ['api.example.com'] }), option: 'origins' },
    { name: "origins ['https://api.example.com/v1'] (a path)", options: bad({ origins: ['https://api.example.com/v1'] }), option: 'origins' },
    { name: "origins ['ftp://files.example.com']", options: bad({ origins: ['ftp://files.example.com'] }), option: 'origins' },
    { name: "readOnly 'yes'", options: bad({ readOnly: 'yes' }), option: 'readOnly' },
    { name: 'readOnly 1', options: bad({ readOnly: 1 }), option: 'readOnly' },
    { name: 'read_only (requests-cache spelling)', options: bad({ read_only: true }), option: 'read_only' },
    { name: "tagsHeader 'bad header' (not a token)", options: bad({ tagsHeader: 'bad header' }), option: 'tagsHeader' },
    { name: "tagsHeader ''", options: bad({ tagsHeader: '' }), option: 'tagsHeader' },
    { name: "tagsHeader 'cache-tag:' (a colon)", options: bad({ tagsHeader: 'cache-tag:' }), option: 'tagsHeader' },
    { name: "tagsHeader 'cache\\ntag' (a control character)", options: bad({ tagsHeader: 'cache\ntag' }), option: 'tagsHeader' },
    { name: "tagsHeader 'câche-tag' (non-ASCII)", options: bad({ tagsHeader: 'câche-tag' }), option: 'tagsHeader' },
    { name: 'tagsHeader 1', options: bad({ tagsHeader: 1 }), option: 'tagsHeader' },
    { name: 'tagsHeader true', options: bad({ tagsHeader: true }), option: 'tagsHeader' },
    { name: 'tagsHeader null', options: bad({ tagsHeader: null }), option: 'tagsHeader' },
    { name: "tagsHeader ['cache-tag']", options: bad({ tagsHeader: ['cache-tag'] }), option: 'tagsHeader' },
    { name: 'tags_header (snake_case)', options: bad({ tags_header: 'cache-tag' }), option: 'tags_header' },
  ]
  for (const row of rows) {
    it(`${row.name} → InvalidOptionError for \`${row.option}\``, () => assertInvalid(() => cache(row.options), row.option))
  }

  it('accepts the documented shapes without throwing', () => {
    const valid: CacheOptions[] = [
      {},
      { store: 'memory', methods: ['get', 'HEAD', 'POST'], expireAfter: 0, cacheControl: false },
      { expireAfter: -1 },
      { expireAfter: false, urlsExpireAfter: { '*.png': 'never', 'api.example.com/live/*': false, 'x/*': 1.5 } },
      { allowableCodes: [200, 404], matchHeaders: true, ignoredParameters: ['api_key'] },
      { matchHeaders: ['X-Tenant'], staleIfError: true, staleWhileRevalidate: 30, maxEntrySize: 1024 },
      { cacheStatus: 'edge-cache', commandTimeout: 50, onError: () => {}, filter: () => true, key: (req) => req.url.href },
      { cacheStatus: false, credentials: { secret: 'sixteen-chars-ok' } },
      { credentials: { secret: new Uint8Array(32) } },
      { origins: ['https://API.example.com:443/', /\.example\.com$/], readOnly: true },
      { origins: [], readOnly: false },
      { tagsHeader: 'Cache-Tag' },
      { collapseTimeout: 0 },
      { collapseTimeout: 250 },
      { tagsHeader: 'surrogate-key', store: 'memory' },
    ]
    for (const options of valid) assert.equal(typeof cache(options), 'function')
  })
})

describe('tagsHeader', () => {
  it('is resolved to the lowercased field name, as stored headers are keyed', () => {
    assert.equal(resolveOptions({ tagsHeader: 'Cache-Tag' }).plan.tagsHeader, 'cache-tag')
    assert.equal(resolveOptions({ tagsHeader: 'X-Surrogate_Key.v2' }).plan.tagsHeader, 'x-surrogate_key.v2')
    assert.equal(resolveTagsHeader("!#$%&'*+-.^_`|~09azAZ"), "!#$%&'*+-.^_`|~09azaz")
  })

  it('is undefined when unset, and the plan then has no request tags of its own', () => {
    const { plan } = resolveOptions({})
    assert.equal(plan.tagsHeader, undefined)
    assert.deepEqual(plan.requestTags, [])
  })

  it('names tagsHeader and quotes the value in the error message', () => {
    assert.throws(() => resolveTagsHeader('bad header'), (error: unknown) => {
      assert.ok(error instanceof InvalidOptionError)
      assert.equal(error.option, 'tagsHeader')
      assert.match(error.message, /`tagsHeader`/)
      assert.match(error.message, /bad header/)
      return true
    })
  })
})

describe('per-request `tags` (the cache dispatch option)', () => {
  const resolve = (tags: unknown) => resolveRequestOptions({ tags }, {})

  const invalid: Array<[name: string, tags: unknown]> = [
    ['a string instead of an array', 'user:42'],
    ['a tag with a space', ['user 42']],
    ['a tag with a comma', ['user:42,team:7']],
    ['a tag with a tab', ['user\t42']],
    ['a tag with a newline', ['user\n42']],
    ['a tag with NUL', ['user\x0042']],
    ['a tag with a control character', ['user\x0142']],
    ['a tag with DEL', ['user\x7f42']],
    ['an empty tag', ['']],
    [`a tag of ${MAX_TAG_LENGTH + 1} characters`, ['x'.repeat(MAX_TAG_LENGTH + 1)]],
    [`${MAX_TAGS + 1} tags`, Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`)],
    ['a number among the tags', ['user:42', 42]],
    ['null', null],
    ['an object', { 0: 'user:42', length: 1 }],
  ]
  for (const [name, tags] of invalid) {
    it(`${name} → InvalidOptionError for \`cache.tags\``, () => assertInvalid(() => resolve(tags), 'cache.tags'))
  }

  it(`accepts ${MAX_TAGS} tags of up to ${MAX_TAG_LENGTH} characters, de-duplicated and frozen`, () => {
    const many = Array.from({ length: MAX_TAGS }, (_, i) => `t${i}`.padEnd(MAX_TAG_LENGTH, 'x'))
    assert.deepEqual(resolve(many).tags, many)
    const tags = resolve(['user:42', 'team:7', 'user:42']).tags
    assert.deepEqual(tags, ['user:42', 'team:7'])
    assert.ok(Object.isFrozen(tags))
  })

  it('a copy: changing the caller\'s array afterwards changes nothing', () => {
    const given = ['user:42']
    const { tags } = resolve(given)
    given.push('team:7')
    assert.deepEqual(tags, ['user:42'])
  })

  it('no tags when the option is absent', () => {
    assert.deepEqual(resolveRequestOptions({}, {}).tags, [])
    assert.deepEqual(resolveRequestOptions(undefined, {}).tags, [])
  })
})

describe('RedisStore options validation', () => {
  // Construction throws before any connection is attempted, so no server is needed.
  const rows: Array<{ name: string; options: () => RedisStoreOptions; option: string }> = [
    { name: "namespace '{x}'", options: () => ({ namespace: '{x}' }), option: 'namespace' },
    { name: "namespace ''", options: () => ({ namespace: '' }), option: 'namespace' },
    { name: "namespace 'a b'", options: () => ({ namespace: 'a b' }), option: 'namespace' },
    { name: "ttl 'yes'", options: () => ({ ttl: 'yes' }) as unknown as RedisStoreOptions, option: 'ttl' },
    { name: 'ttlOffset -1', options: () => ({ ttlOffset: -1 }), option: 'ttlOffset' },
    { name: 'ttlOffset NaN', options: () => ({ ttlOffset: Number.NaN }), option: 'ttlOffset' },
    { name: "url 'http://x'", options: () => ({ url: 'http://x' }), option: 'url' },
    { name: 'client {}', options: () => ({ client: {} }) as unknown as RedisStoreOptions, option: 'client' },
    { name: 'client and url together', options: () => ({ client: createClient(), url: 'redis://x' }) as unknown as RedisStoreOptions, option: 'url' },
  ]
  for (const row of rows) {
    it(`${row.name} → InvalidOptionError for \`${row.option}\``, () => assertInvalid(() => new RedisStore(row.options()), row.option))
  }

  it('options null → InvalidOptionError for `options`', () => assertInvalid(() => new RedisStore(null as unknown as RedisStoreOptions), 'options'))
})

describe('MemoryStore options validation', () => {
  const rows: Array<{ name: string; options: MemoryStoreOptions; option: string }> = [
    { name: 'maxSize 0', options: { maxSize: 0 }, option: 'maxSize' },
    { name: 'maxSize 1.5', options: { maxSize: 1.5 }, option: 'maxSize' },
    { name: 'maxEntrySize larger than maxSize', options: { maxSize: 100, maxEntrySize: 200 }, option: 'maxEntrySize' },
    { name: 'maxEntrySize 0', options: { maxEntrySize: 0 }, option: 'maxEntrySize' },
    { name: "ttl 'yes'", options: { ttl: 'yes' } as unknown as MemoryStoreOptions, option: 'ttl' },
    { name: 'ttlOffset -1', options: { ttlOffset: -1 }, option: 'ttlOffset' },
    { name: 'unknown key max_size', options: { max_size: 10 } as unknown as MemoryStoreOptions, option: 'max_size' },
  ]
  for (const row of rows) {
    it(`${row.name} → InvalidOptionError for \`${row.option}\``, () => assertInvalid(() => new MemoryStore(row.options), row.option))
  }
})

/** Any of the error classes, whatever its constructor's parameters. */
type ErrorClass = (abstract new (...args: never[]) => CacheError) & { readonly code: string }

describe('error classes', () => {
  const instances: Array<{ error: CacheError; cls: ErrorClass; code: string; name: string }> = [
    { error: new InvalidOptionError('x', 'a thing', 1), cls: InvalidOptionError, code: 'URC_ERR_INVALID_OPTION', name: 'InvalidOptionError' },
    { error: new StoreError('get', { cause: new Error('down') }), cls: StoreError, code: 'URC_ERR_STORE', name: 'StoreError' },
    { error: new StoreTimeoutError('get', 200), cls: StoreTimeoutError, code: 'URC_ERR_STORE_TIMEOUT', name: 'StoreTimeoutError' },
    { error: new StoreUnavailableError(Date.now() + 1000), cls: StoreUnavailableError, code: 'URC_ERR_STORE_UNAVAILABLE', name: 'StoreUnavailableError' },
    { error: new CorruptEntryError('abc', 'truncated'), cls: CorruptEntryError, code: 'URC_ERR_CORRUPT_ENTRY', name: 'CorruptEntryError' },
    { error: new BodyReadError(1024, 200), cls: BodyReadError, code: 'URC_ERR_BODY_READ', name: 'BodyReadError' },
    { error: new KeyFunctionError('it threw'), cls: KeyFunctionError, code: 'URC_ERR_KEY_FUNCTION', name: 'KeyFunctionError' },
    { error: new InvalidEntryError('no body'), cls: InvalidEntryError, code: 'URC_ERR_INVALID_ENTRY', name: 'InvalidEntryError' },
    { error: new MissingOriginError(), cls: MissingOriginError, code: 'URC_ERR_MISSING_ORIGIN', name: 'MissingOriginError' },
    { error: new StoreWritesUnavailableError(Date.now() + 1000), cls: StoreWritesUnavailableError, code: 'URC_ERR_STORE_WRITES_UNAVAILABLE', name: 'StoreWritesUnavailableError' },
  ]
  for (const { error, cls, code, name } of instances) {
    it(`${name}: an Error and a CacheError, with code ${code}, and no other subclass`, () => {
      assert.ok(error instanceof Error)
      assert.ok(error instanceof CacheError)
      assert.ok(error instanceof cls)
      assert.equal(error.code, code)
      assert.equal(error.name, name)
      assert.equal(cls.code, code)
      for (const other of instances) {
        if (other.cls !== cls) assert.equal(error instanceof other.cls, false, `${name} instanceof ${other.name}`)
      }
    })
  }

  it('StoreError keeps its cause and quotes it', () => {
    const cause = new Error('ECONNREFUSED')
    const error = new StoreError('get', { cause })
    assert.equal(error.cause, cause)
    assert.match(error.message, /ECONNREFUSED/)
  })

  it('a second copy of the package (same Symbol.for brand and code) passes instanceof', () => {
    const brand = Symbol.for('undici-redis-cache.error')
    const foreign = Object.assign(new Error('from another copy'), { [brand]: true, code: 'URC_ERR_INVALID_OPTION' })
    assert.ok(foreign instanceof InvalidOptionError)
    assert.ok(foreign instanceof CacheError)
    assert.equal(foreign instanceof StoreError, false)
    const otherCode = { [brand]: true, code: 'URC_ERR_SOMETHING_NEW' }
    assert.ok(otherCode instanceof CacheError)
    assert.equal(otherCode instanceof InvalidOptionError, false)
  })

  it('an object with the code but without the brand is not a CacheError', () => {
    const lookalike = Object.assign(new Error('plain'), { code: 'URC_ERR_INVALID_OPTION' })
    assert.equal(lookalike instanceof InvalidOptionError, false)
    assert.equal(lookalike instanceof CacheError, false)
    assert.equal((null as unknown as object) instanceof CacheError, false)
  })
})
