/**
 * The undici the tests drive. `undici` (major 7) by default; CI sets UNDICI_PACKAGE=undici8 (an npm
 * alias of undici 8, which needs Node >= 22.19) to run the same end-to-end tests against the next major.
 * Tests import undici from here, never from 'undici' directly, so one variable switches them all.
 */
import type * as Undici from 'undici'

export const undiciPackage = process.env['UNDICI_PACKAGE'] ?? 'undici'
const undici = (await import(undiciPackage)) as typeof Undici

/** The running undici's major version, from the package itself. */
export const undiciMajor: number = await import(`${undiciPackage}/package.json`, { with: { type: 'json' } }).then(
  (pkg: { default: { version: string } }) => Number(pkg.default.version.split('.')[0]),
)

export const { fetch, request, stream, pipeline, interceptors, setGlobalDispatcher, getGlobalDispatcher, cacheStores } = undici
export const Agent = undici.Agent
export type Agent = Undici.Agent
export const Client = undici.Client
export type Client = Undici.Client
export const Pool = undici.Pool
export type Pool = Undici.Pool
export type { Dispatcher } from 'undici'
