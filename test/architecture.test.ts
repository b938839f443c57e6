/**
 * The module map of DESIGN.md, checked: imports in lib/ only run downward through the layers (so
 * policy never reaches up into storage, storage never into the request flows), there is no import
 * cycle, the pure layers import no I/O library, and no file outgrows one job.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const LIB = resolve(dirname(fileURLToPath(import.meta.url)), '../lib')

/**
 * Layers, lowest first. A file may import files of its own layer or lower ones. The first matching
 * pattern names a file's layer.
 */
const LAYERS: ReadonlyArray<{ readonly name: string; readonly files: RegExp }> = [
  { name: 'foundation', files: /^(errors|headers|http|clock|entry|diagnostics|single-flight|option-checks|cache-switch)\.ts$/ },
  { name: 'policy, keys, codec', files: /^(policy\/.*|key|url-normalize|body-digest|codec\/.*)\.ts$/ },
  { name: 'stores', files: /^stores\/.*\.ts$/ },
  { name: 'storage', files: /^storage\/.*\.ts$/ },
  { name: 'options', files: /^(cache-options|options|store-option|request-options|field-options)\.ts$/ },
  { name: 'undici adapter, replay, handlers', files: /^(message|recorder|status|body-source|replay|request-body|undici-store|handlers\/.*)\.ts$/ },
  { name: 'flows', files: /^flows\/.*\.ts$/ },
  { name: 'interceptor', files: /^interceptor\.ts$/ },
  { name: 'public surface and CLI', files: /^(index|cli|cli\/.*)\.ts$/ },
]

/** Modules that do I/O or belong to undici: the pure layers must not import them. */
const IO_MODULES = /^(undici|redis|@redis\/client|node:stream|node:net|node:http)$/
const PURE = /^(policy\/.*|key|url-normalize|body-digest|codec\/.*)\.ts$/
const MAX_LINES = 350

function libFiles(dir = LIB): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return libFiles(path)
    return entry.name.endsWith('.ts') ? [relative(LIB, path)] : []
  })
}

/** Every module a file imports or re-exports, type-only imports included (a type import is a dependency too). */
function importsOf(file: string): string[] {
  const source = readFileSync(join(LIB, file), 'utf8')
  return [...source.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s+'([^']+)'/gm), ...source.matchAll(/^\s*import\s+'([^']+)'/gm)].map((match) => match[1]!)
}

function layerOf(file: string): number {
  const index = LAYERS.findIndex((layer) => layer.files.test(file))
  assert.notEqual(index, -1, `${file} belongs to no layer of the module map: add it to LAYERS (and DESIGN.md)`)
  return index
}

/** The lib-relative file a relative specifier names (`.js` in source, `.ts` on disk). */
function target(from: string, specifier: string): string {
  return relative(LIB, resolve(LIB, dirname(from), specifier)).replace(/\.js$/, '.ts')
}

describe('architecture', () => {
  const files = libFiles().sort()
  const graph = new Map(files.map((file) => [file, importsOf(file).filter((s) => s.startsWith('.')).map((s) => target(file, s))]))

  it('every lib/ file belongs to a layer of the module map', () => {
    for (const file of files) layerOf(file)
  })

  it('imports only run downward: policy → storage → flows → interceptor', () => {
    const upward: string[] = []
    for (const [file, deps] of graph) {
      for (const dep of deps) {
        if (layerOf(dep) > layerOf(file)) upward.push(`${file} (${LAYERS[layerOf(file)]!.name}) imports ${dep} (${LAYERS[layerOf(dep)]!.name})`)
      }
    }
    assert.deepEqual(upward, [])
  })

  it('the import graph has no cycle', () => {
    const state = new Map<string, 'open' | 'done'>()
    const cycles: string[] = []
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return
      if (state.get(file) === 'open') return void cycles.push([...path.slice(path.indexOf(file)), file].join(' → '))
      state.set(file, 'open')
      for (const dep of graph.get(file) ?? []) visit(dep, [...path, file])
      state.set(file, 'done')
    }
    for (const file of files) visit(file, [])
    assert.deepEqual(cycles, [])
  })

  it('policy/, key.ts and codec/ import no undici, redis or node:stream', () => {
    const offending = files.filter((file) => PURE.test(file)).flatMap((file) => importsOf(file).filter((s) => IO_MODULES.test(s)).map((s) => `${file} imports ${s}`))
    assert.deepEqual(offending, [])
  })

  it(`no file in lib/ is over ${MAX_LINES} lines`, () => {
    const long = files.map((file) => ({ file, lines: readFileSync(join(LIB, file), 'utf8').split('\n').length - 1 })).filter(({ lines }) => lines > MAX_LINES)
    assert.deepEqual(long, [])
  })
})
