/**
 * cache()'s options checked and resolved (resolveOptions): a bad one fails at construction with
 * InvalidOptionError naming it. Their reference is cache-options.ts.
 */
import type { CacheOptions } from './cache-options.js'
import type { CacheError } from './errors.js'
import type { CacheRequest, CacheResponse } from './http.js'
import type { CacheStore } from './stores/types.js'
import { InvalidOptionError } from './errors.js'
import { bool, fn, isNonEmptyString, isStatus, list, plainObject, positiveInteger, staleWindowSeconds as window } from './option-checks.js'
import { toExpiration, compileUrlRules, type Expiration, type UrlRule } from './policy/expire-after.js'
import type { StorableOptions } from './policy/storable.js'
import type { ReuseOptions } from './policy/reuse.js'
import type { PlanOptions } from './policy/entry-plan.js'
import { resolveClock, type Clock } from './clock.js'
import { CREDENTIAL_HEADERS } from './headers.js'
import { credentialPartition, secretDigest, type KeyOptions } from './key.js'
import { compileOrigins, type OriginRule } from './policy/origins.js'
import { resolveStore } from './store-option.js'
import { resolveCacheStatus, resolveMatchHeaders, resolveTagsHeader } from './field-options.js'

export type { CacheOptions, ExpireAfter } from './cache-options.js'

export const DEFAULT_METHODS: readonly string[] = ['GET', 'HEAD']
export const DEFAULT_MAX_ENTRY_SIZE = 16 * 1024 * 1024
export const DEFAULT_COMMAND_TIMEOUT = 200
export const DEFAULT_COLLAPSE_TIMEOUT = 5000
export { DEFAULT_CACHE_NAME } from './field-options.js'

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'store', 'type', 'methods', 'expireAfter', 'urlsExpireAfter', 'cacheControl', 'allowableCodes', 'matchHeaders',
  'ignoredParameters', 'filter', 'key', 'staleIfError', 'staleWhileRevalidate', 'alwaysRevalidate', 'maxEntrySize', 'cacheStatus',
  'commandTimeout', 'collapseTimeout', 'onError', 'credentials', 'clock', 'origins', 'readOnly', 'tagsHeader',
] satisfies (keyof CacheOptions)[])

/** Methods whose semantics a cache can never reuse (RFC 9110 §9.3.6, §9.3.8): refused in `methods`. */
const NEVER_CACHED_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'TRACE'])

export interface ResolvedOptions {
  readonly store: CacheStore
  /** Methods stored; always contains GET when it contains HEAD (HEAD is answered from GET). */
  readonly methods: ReadonlySet<string>
  readonly cacheControl: boolean
  readonly expireAfter: Expiration | undefined
  readonly urlRules: readonly UrlRule[]
  readonly storable: StorableOptions
  readonly key: KeyOptions
  /** The `credentials` option is set: Authorization / Cookie requests are cached per credential. */
  readonly credentialsPartitioned: boolean
  /** Request header names whose values are stored only digested, and the digest. */
  readonly secretHeaders: ReadonlySet<string>
  readonly secretDigest: (value: string) => string
  readonly reuse: ReuseOptions
  readonly filter: ((response: CacheResponse, request: CacheRequest) => boolean) | undefined
  readonly maxEntrySize: number
  /** Our Cache-Status member's name, or undefined when the header is off. */
  readonly cacheStatusName: string | undefined
  /** Cache-Status carries the `key` parameter. */
  readonly cacheStatusKey: boolean
  readonly commandTimeout: number
  /** Fleet lock TTL and longest fleet wait, in ms; 0: off. */
  readonly collapseTimeout: number
  readonly onError: ((error: CacheError) => void) | undefined
  readonly clock: Clock
  /** What policy/entry-plan.ts reads to plan a response's storage. */
  readonly plan: PlanOptions
  /** The `origins` option, compiled; undefined: every origin. */
  readonly origins: OriginRule | undefined
  readonly readOnly: boolean
}

export function resolveOptions(options: CacheOptions | undefined): ResolvedOptions {
  if (options === undefined) options = {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('options', 'an object', options)
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) throw new InvalidOptionError(name, `one of the known options (${[...KNOWN_OPTIONS].join(', ')})`, name)
  }

  const methods = upperList(options.methods ?? DEFAULT_METHODS, 'methods')
  for (const method of methods) {
    if (NEVER_CACHED_METHODS.has(method)) throw new InvalidOptionError('methods', 'methods a cache can reuse (not CONNECT or TRACE)', options.methods)
  }
  const allowableCodes = options.allowableCodes === undefined ? undefined : new Set(list(options.allowableCodes, 'allowableCodes', isStatus, 'status codes 200-599'))
  const cacheControl = bool(options.cacheControl, 'cacheControl', true)
  const ignored = list(options.ignoredParameters ?? [], 'ignoredParameters', isNonEmptyString, 'non-empty strings')
  const credentialsSecret = resolveCredentials(options.credentials)
  const ignoredHeaders = new Set(ignored.map((name) => name.toLowerCase()))
  const clock = resolveClock(options.clock)
  const expireAfter = options.expireAfter === undefined ? undefined : toExpiration(options.expireAfter, 'expireAfter')
  const urlRules = compileUrlRules(plainObject(options.urlsExpireAfter ?? {}, 'urlsExpireAfter'), 'urlsExpireAfter')
  const shared = resolveType(options.type) === 'shared'
  const storable: StorableOptions = { methods, allowableCodes, cacheControl, credentialsPartitioned: credentialsSecret !== undefined, shared }
  const reuse: ReuseOptions = {
    staleIfError: window(options.staleIfError, 'staleIfError'),
    staleWhileRevalidate: window(options.staleWhileRevalidate, 'staleWhileRevalidate'),
    alwaysRevalidate: bool(options.alwaysRevalidate, 'alwaysRevalidate', false),
    shared,
  }

  return {
    store: resolveStore(options.store, clock),
    methods,
    cacheControl,
    expireAfter,
    urlRules,
    storable,
    credentialsPartitioned: credentialsSecret !== undefined,
    key: {
      ignoredParams: new Set(ignored),
      ignoredHeaders,
      matchHeaders: resolveMatchHeaders(options.matchHeaders),
      keyFn: fn(options.key, 'key'),
      partition: credentialsSecret === undefined ? undefined : credentialPartition(credentialsSecret),
    },
    // Values of these request headers may enter storage only as digests (in a stored Vary record).
    secretHeaders: credentialsSecret === undefined ? ignoredHeaders : new Set([...ignoredHeaders, ...CREDENTIAL_HEADERS]),
    secretDigest: secretDigest(credentialsSecret),
    reuse,
    filter: fn(options.filter, 'filter'),
    maxEntrySize: positiveInteger(options.maxEntrySize, 'maxEntrySize', DEFAULT_MAX_ENTRY_SIZE),
    ...resolveCacheStatus(options.cacheStatus),
    commandTimeout: positiveInteger(options.commandTimeout, 'commandTimeout', DEFAULT_COMMAND_TIMEOUT),
    collapseTimeout: options.collapseTimeout === 0 ? 0 : positiveInteger(options.collapseTimeout, 'collapseTimeout', DEFAULT_COLLAPSE_TIMEOUT),
    onError: fn(options.onError, 'onError'),
    clock,
    plan: { storable, reuse, cacheControl, expireAfter, urlRules, redactHeaders: ignoredHeaders, tagsHeader: resolveTagsHeader(options.tagsHeader), requestTags: [] },
    origins: compileOrigins(options.origins, 'origins'),
    readOnly: bool(options.readOnly, 'readOnly', false),
  }
}

function resolveType(value: unknown): 'shared' | 'private' {
  if (value === undefined || value === 'shared' || value === 'private') return value ?? 'shared'
  throw new InvalidOptionError('type', "'shared' or 'private'", value)
}

function resolveCredentials(value: unknown): string | Uint8Array | undefined {
  if (value === undefined) return undefined
  const secret = typeof value === 'object' && value !== null ? (value as { secret?: unknown }).secret : undefined
  if ((typeof secret === 'string' || secret instanceof Uint8Array) && secret.length >= 16) return secret
  throw new InvalidOptionError('credentials', 'an object { secret } with a secret of at least 16 characters or bytes', value)
}

function upperList(value: unknown, option: string): ReadonlySet<string> {
  const methods = new Set(list(value, option, (m): m is string => typeof m === 'string' && /^[A-Za-z]+$/.test(m), 'method names').map((m) => m.toUpperCase()))
  if (methods.has('HEAD')) methods.add('GET')
  return methods
}
