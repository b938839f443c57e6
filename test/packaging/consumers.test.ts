/**
 * The package as its users install it (issue: `require('undici-redis-cache')` failed with
 * ERR_PACKAGE_PATH_NOT_EXPORTED, and a consumer on `moduleResolution: node` without `esModuleInterop`
 * failed inside our .d.ts on a default import of `node:diagnostics_channel`).
 *
 * lib/ is built once into a temp package; a small consumer is then type-checked with
 * `skipLibCheck: false` under node10, node16, nodenext and bundler resolution, and a CommonJS file requires
 * the built package in a child process.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { buildPackageFixture, formatDiagnostics, PACKAGE_NAME, ROOT, type PackageFixture } from '../helpers/package-fixture.js'

/** Every public value and type a consumer is promised (DESIGN.md, Public contract), used once each. */
const CONSUMER_BODY = `
const options: CacheOptions = { store: new MemoryStore({ maxSize: 1 << 20 }), expireAfter: 300 }
const dispatcher: Dispatcher = new Agent().compose(cache({ store: new MemoryStore() }), cache(options))
const memoryOptions: MemoryStoreOptions = { maxSize: 1024 }
const redisOptions: RedisStoreOptions = { url: 'redis://127.0.0.1:6379', namespace: 'app' }
export function stores(): CacheStore[] {
  return [new MemoryStore(memoryOptions), new RedisStore(redisOptions)]
}
export function describeError(error: unknown): string {
  if (error instanceof InvalidOptionError) return error.code
  if (error instanceof StoreTimeoutError || error instanceof StoreUnavailableError) return error.code
  if (error instanceof StoreError || error instanceof CorruptEntryError) return error.message
  if (error instanceof BodyReadError || error instanceof KeyFunctionError || error instanceof InvalidEntryError) return error.name
  return error instanceof CacheError ? error.code : 'other'
}
export type Used = [ExpireAfter, CacheCounters, StoreWrite, StoreStats, StoreEntryInfo, CacheRequest, CacheResponse, HeaderRecord]
export { dispatcher }
`

const NAMES = `cache,
  RedisStore,
  MemoryStore,
  CacheError,
  InvalidOptionError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  CorruptEntryError,
  BodyReadError,
  KeyFunctionError,
  InvalidEntryError,
  type CacheOptions,
  type ExpireAfter,
  type RedisStoreOptions,
  type MemoryStoreOptions,
  type CacheStore,
  type CacheCounters,
  type StoreWrite,
  type StoreStats,
  type StoreEntryInfo,
  type CacheRequest,
  type CacheResponse,
  type HeaderRecord`

const CONSUMER = `import { Agent, type Dispatcher } from 'undici'
import {
  ${NAMES},
} from 'undici-redis-cache'
${CONSUMER_BODY}`

/** What a consumer project would set; `skipLibCheck: false` is the point. */
const BASE: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2023.d.ts'],
  types: ['node'],
  strict: true,
  skipLibCheck: false,
  noEmit: true,
}

interface Consumer {
  readonly name: string
  /** Files type-checked together; .mts / .cts fix the module format under node16 and nodenext. */
  readonly files: readonly string[]
  readonly options: ts.CompilerOptions
  /** 8: the consumer's `undici` is undici 8 (for it and for the package's .d.ts alike). */
  readonly undici?: 8
}

const CONSUMERS: readonly Consumer[] = [
  {
    // The old default (`moduleResolution: node`): no exports map, the `types` field, no esModuleInterop.
    name: 'node10, CommonJS, no esModuleInterop',
    files: ['node10.ts'],
    options: { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, esModuleInterop: false },
  },
  {
    // `module: node16` refuses a CommonJS import of an ES module (TS1479), so only an ESM consumer here.
    name: 'node16, ESM',
    files: ['node16.mts'],
    options: { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 },
  },
  {
    // TypeScript 5.8+ lets CommonJS import an ES module under `module: nodenext`, as Node >= 20.19 does.
    name: 'nodenext, an ESM and a CommonJS file',
    files: ['nodenext.mts', 'nodenext.cts'],
    options: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
  },
  {
    // With the strict flags some projects add, which .d.ts files can also trip over.
    name: 'bundler, exactOptionalPropertyTypes, verbatimModuleSyntax',
    files: ['bundler.ts'],
    options: {
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
    },
  },
  {
    // Our .d.ts import `undici`, so a project on undici 8 checks them against undici 8's Dispatcher.
    name: 'nodenext, ESM, with undici 8',
    files: ['undici8.mts'],
    options: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
    undici: 8,
  },
]

let fixture: PackageFixture
/** Consumers on undici 7 (the repo's `undici`). */
let consumerDir: string
/** Consumers whose `node_modules/undici` is the repo's undici 8 alias, beside a copy of the package. */
let undici8Dir: string

describe('packaging: the built package', () => {
  before(function () {
    // Cold start of the TypeScript compiler and one full build of lib/: a few seconds on 2 cores.
    this.timeout(60_000)
    fixture = buildPackageFixture()
    consumerDir = join(fixture.dir, 'consumer')
    mkdirSync(consumerDir)
    undici8Dir = join(fixture.dir, 'undici8')
    mkdirSync(join(undici8Dir, 'node_modules'), { recursive: true })
    // A copy, not a symlink: the package's own `import 'undici'` must resolve from here, not its realpath.
    cpSync(fixture.packageDir, join(undici8Dir, 'node_modules', PACKAGE_NAME), { recursive: true })
    symlinkSync(join(ROOT, 'node_modules', 'undici8'), join(undici8Dir, 'node_modules', 'undici'), 'dir')
  })

  after(() => {
    fixture?.remove()
  })

  it('builds from lib/ without diagnostics', () => {
    assert.equal(formatDiagnostics(fixture.buildDiagnostics), '')
  })

  describe('type-checks in a consumer with skipLibCheck: false', () => {
    for (const consumer of CONSUMERS) {
      it(consumer.name, function () {
        this.timeout(30_000)
        const files = consumer.files.map((name) => join(consumer.undici === 8 ? undici8Dir : consumerDir, name))
        for (const file of files) writeFileSync(file, CONSUMER)
        const { diagnostics, read } = fixture.check(files, { ...BASE, ...consumer.options })
        assert.equal(formatDiagnostics(diagnostics), '')
        const undici = consumer.undici === 8 ? '/node_modules/undici8/' : '/node_modules/undici/'
        assert.ok(read.some((name) => name.includes(`${undici}types/dispatcher.d.ts`)), `undici's types resolve from ${undici}`)
      })
    }
  })

  it("require('undici-redis-cache') from CommonJS gives working exports, the same as import()", async function () {
    this.timeout(30_000)
    const file = join(consumerDir, 'require.cjs')
    writeFileSync(
      file,
      `const lib = require('undici-redis-cache')
const { Agent } = require('undici')
const store = new lib.MemoryStore()
const agent = new Agent().compose(lib.cache({ store }))
let rejected = 'no'
try { lib.cache({ nonsense: true }) } catch (error) { rejected = error instanceof lib.CacheError ? error.code : String(error) }
import('undici-redis-cache').then(async (esm) => {
  await agent.close()
  await store.close()
  console.log(JSON.stringify({
    cache: typeof lib.cache,
    RedisStore: typeof lib.RedisStore,
    composed: typeof agent.dispatch,
    rejected,
    sameModule: esm.cache === lib.cache && esm.MemoryStore === lib.MemoryStore,
  }))
})
`,
    )
    const { stdout, stderr } = await run(file)
    assert.deepEqual(JSON.parse(stdout), {
      cache: 'function',
      RedisStore: 'function',
      composed: 'function',
      rejected: 'URC_ERR_INVALID_OPTION',
      sameModule: true,
    }, stderr)
  })
})

function run(file: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [file], { cwd: fixture.dir, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${file} failed: ${error.message}\n${stderr}`))
      else resolve({ stdout, stderr })
    })
  })
}
