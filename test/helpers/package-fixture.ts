/**
 * The package as a consumer installs it: `lib/` compiled with the repo's tsconfig into
 * `<tmp>/node_modules/undici-redis-cache/dist`, next to a copy of package.json, so `exports`, `main`
 * and `types` are the real ones. The temp directory sits inside the repo (gitignored `.packaging-*`)
 * so the package's own dependencies (undici, @redis/client, cbor-x, lru-cache) resolve from the repo's
 * node_modules by the ordinary upward walk, and the repo's dist/ is never written.
 *
 * Programs share one parsed-and-bound SourceFile cache (as a language service's document registry
 * does), so @types/node and the lib files are parsed once for the build and all consumers. That is
 * safe because a Program keeps its module resolutions itself; the one resolution-dependent thing
 * parsed into a file, its module format (impliedNodeFormat), is part of the cache key.
 */
import { cpSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const PACKAGE_NAME = 'undici-redis-cache'

export interface PackageFixture {
  /** The temp directory; consumers written here resolve the package by name. */
  readonly dir: string
  /** `<dir>/node_modules/undici-redis-cache` */
  readonly packageDir: string
  /** Diagnostics of the build itself (should be none). */
  readonly buildDiagnostics: readonly ts.Diagnostic[]
  /**
   * Type-checks `files` (absolute paths) with `options`: every diagnostic, .d.ts ones included, and the
   * names of the files the program read (to see which copy of a dependency resolved).
   */
  check(files: readonly string[], options: ts.CompilerOptions): { diagnostics: readonly ts.Diagnostic[]; read: readonly string[] }
  remove(): void
}

type SourceFileOptions = Parameters<ts.CompilerHost['getSourceFile']>[1]

/** Compiles lib/ into a fresh temp package; pair with `remove()` in after(). */
export function buildPackageFixture(): PackageFixture {
  const dir = mkdtempSync(join(ROOT, '.packaging-'))
  try {
    return build(dir)
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

function build(dir: string): PackageFixture {
  const packageDir = join(dir, 'node_modules', PACKAGE_NAME)
  mkdirSync(packageDir, { recursive: true })
  cpSync(join(ROOT, 'package.json'), join(packageDir, 'package.json'))
  // Consumers get a package scope of their own (CommonJS unless the file says .mts), not the repo's.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))

  const sourceFiles = new Map<string, ts.SourceFile>()
  const makeHost = (options: ts.CompilerOptions): ts.CompilerHost => {
    const host = ts.createCompilerHost(options, true)
    const read = host.getSourceFile.bind(host)
    host.getSourceFile = (fileName: string, languageVersion: SourceFileOptions, onError, fresh) => {
      const version = typeof languageVersion === 'object' ? languageVersion : { languageVersion }
      const key = `${fileName}\0${version.languageVersion}\0${version.impliedNodeFormat ?? ''}`
      const cached = fresh === true ? undefined : sourceFiles.get(key)
      if (cached !== undefined) return cached
      const file = read(fileName, languageVersion, onError, fresh)
      if (file !== undefined) sourceFiles.set(key, file)
      return file
    }
    return host
  }

  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })
  if (config === undefined) throw new Error('tsconfig.json could not be read')
  // Maps point into lib/, which this copy does not carry; leave them out.
  const buildOptions: ts.CompilerOptions = { ...config.options, outDir: join(packageDir, 'dist'), declarationMap: false, sourceMap: false }
  const program = ts.createProgram({ rootNames: config.fileNames, options: buildOptions, host: makeHost(buildOptions) })
  const emitted = program.emit()
  const buildDiagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics]

  return {
    dir,
    packageDir,
    buildDiagnostics,
    check: (files, options) => {
      const program = ts.createProgram({ rootNames: files, options, host: makeHost(options) })
      return { diagnostics: ts.getPreEmitDiagnostics(program), read: program.getSourceFiles().map((file) => file.fileName) }
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

export function formatDiagnostics(diagnostics: readonly ts.Diagnostic[]): string {
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => ROOT,
    getNewLine: () => '\n',
  })
}
