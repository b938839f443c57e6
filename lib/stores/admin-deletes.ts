/**
 * The targeted deletes of the store contract (types.ts CacheStore: delete, deletePrefix, deleteTags,
 * deleteOlderThan), over the indexes a store keeps of what it writes (StoreWrite.index). None of them
 * walks the store: each reads an index, the metadata of the entries it names (to find their bodies
 * stored apart, and to filter by method), and removes them, so it costs a number of store commands
 * proportional to the entries it removes, whatever else the store holds. That is what lets the cache's
 * RFC 9111 §4.4 invalidation reach every partition of a URL on the request path.
 *
 * Entries go first, their index members after: a failure in between leaves members whose entries are
 * gone (found dangling next time and dropped), never an entry the index cannot reach. The members go
 * only at the version read (IndexedId.version): an id stored again between the read and the unindex
 * keeps the members of that write. A failed metadata read fails the delete before anything goes.
 */
import type { Clock } from '../clock.js'
import { InvalidOptionError } from '../errors.js'
import { sharedMethod } from '../key.js'
import { filedUnder } from '../policy/tags.js'
import { normalizePath, normalizeUrl } from '../url-normalize.js'
import { primaryOf, readRecords, type AdminSource, type IndexQuery, type Unindexed } from './admin-source.js'
import type { DeleteOptions } from './types.js'

export class IndexedDeletes {
  readonly #source: AdminSource
  readonly #clock: Clock

  constructor(source: AdminSource, clock: Clock) {
    this.#source = source
    this.#clock = clock
  }

  async delete(url: string | URL, options: DeleteOptions = {}): Promise<number> {
    const target = normalizeUrl(absoluteUrl(url, 'url'), new Set())
    return this.#deleteIndexed({ kind: 'url', url: target }, options.method === undefined ? undefined : sharedMethod(options.method))
  }

  async deletePrefix(prefix: string | URL): Promise<number> {
    const parsed = absoluteUrl(prefix, 'prefix')
    // Scheme, host, port and path normalized as stored URLs are (lowercased, default port dropped,
    // escapes normalized), so the prefix compares with them byte for byte. A query part is kept as
    // given: normalizing it (sorting, `a` to `a=`) would change what it is a prefix of.
    const href = parsed.href.split('#', 1)[0] as string
    const query = href.indexOf('?')
    const normalized = `${parsed.protocol}//${parsed.host}${normalizePath(parsed.pathname)}${query === -1 ? '' : href.slice(query)}`
    let deleted = 0
    for await (const urls of this.#source.indexedUrls(normalized)) {
      for (const url of urls) deleted += await this.#deleteIndexed({ kind: 'url', url }, undefined)
    }
    return deleted
  }

  async deleteTags(tags: readonly string[]): Promise<number> {
    if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string')) throw new InvalidOptionError('tags', 'an array of strings', tags)
    let deleted = 0
    for (const tag of new Set(tags)) deleted += await this.#deleteIndexed({ kind: 'tag', tag }, undefined)
    return deleted
  }

  async deleteOlderThan(seconds: number): Promise<number> {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) throw new InvalidOptionError('seconds', 'a finite number of seconds >= 0', seconds)
    return this.#deleteIndexed({ kind: 'before', time: this.#clock.now() - seconds * 1000 }, undefined)
  }

  /**
   * Deletes the entries `query` names (of `method` only, when given) with their bodies stored apart,
   * and, for a URL, the vary pointers of its variants: every variant under a pointer shares its
   * canonical key, hence its URL. Returns how many entries went.
   */
  async #deleteIndexed(query: IndexQuery, method: string | undefined): Promise<number> {
    const source = this.#source
    let deleted = 0
    for await (const batch of source.indexed(query)) {
      // The version each id was read at goes back with its unindex, so a write of the id landing
      // between this read and the unindex keeps its index records (AdminSource.unindex).
      const versions = new Map<string, { version?: number }>()
      for (const { id, version } of batch) if (!versions.has(id)) versions.set(id, version === undefined ? {} : { version })
      const ids = [...versions.keys()]
      const records = new Map((await readRecords(source, ids)).map((record) => [record.id, record]))
      const doomed = new Set<string>()
      const unindexed: Unindexed[] = []
      for (const id of ids) {
        const meta = records.get(id)?.meta
        // An id rewritten since under another URL, or without the tag, stays (its member here is stale).
        const elsewhere = meta?.kind === 'entry' && ((query.kind === 'url' && meta.url !== query.url) || (query.kind === 'tag' && !filedUnder(meta.headers, query.tag)))
        if (meta?.kind === 'entry' && !elsewhere) {
          if (method !== undefined && sharedMethod(meta.method) !== method) continue
          doomed.add(id)
          if (meta.bodyId !== undefined) doomed.add(meta.bodyId)
          if (query.kind === 'url' && id.includes('.')) doomed.add(primaryOf(id))
          deleted++
          unindexed.push({ id, url: meta.url, ...tagOf(query), age: true, ...versions.get(id) })
        } else {
          // Gone, now a vary pointer or filed elsewhere, or not decodable (a corrupt value, which is a
          // miss anyway and goes with the entries it is indexed among). An entry filed elsewhere keeps
          // its place in the age index.
          if (meta === undefined && records.has(id)) doomed.add(id)
          unindexed.push({ id, ...(query.kind === 'url' ? { url: query.url } : {}), ...tagOf(query), age: !elsewhere, ...versions.get(id) })
        }
      }
      if (doomed.size > 0) await source.remove([...doomed])
      await source.unindex(unindexed)
    }
    return deleted
  }
}

function tagOf(query: IndexQuery): { tag?: string } {
  return query.kind === 'tag' ? { tag: query.tag } : {}
}

/** `value` as an absolute http(s) URL, or InvalidOptionError naming `option`. */
function absoluteUrl(value: string | URL, option: string): URL {
  const url = value instanceof URL ? value : typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new InvalidOptionError(option, 'an absolute http(s) URL', value)
  return url
}
