/**
 * Vary pointer generations (storage/vary-records.ts, issue 11), through EntryRepository over a
 * MemoryStore: what is written where, pointers written before generations, and what a lookup costs.
 */
import assert from 'node:assert/strict'
import { systemClock } from '../../lib/clock.js'
import { decodeRecord, encodeRecord } from '../../lib/codec/frame.js'
import type { StoredEntry, VaryPointer } from '../../lib/entry.js'
import { hashKey, variantId, type RequestKey } from '../../lib/key.js'
import { EntryRepository } from '../../lib/storage/entry-repository.js'
import { GuardedStore } from '../../lib/stores/guarded-store.js'
import { MemoryStore } from '../../lib/stores/memory-store.js'
import type { CacheStore } from '../../lib/stores/types.js'

const canonical = '["v1","GET","https://example.com/negotiated",null,[],null]'
const key: RequestKey = { id: hashKey(canonical), canonical }
const NAMES = ['accept-language']

function entryFor(lang: string, body = `in ${lang}`): StoredEntry {
  return {
    kind: 'entry', key: canonical, url: 'https://example.com/negotiated', method: 'GET', status: 200, statusText: 'OK',
    headers: { vary: 'accept-language' }, vary: { 'accept-language': lang }, requestTime: Date.now(), responseTime: Date.now(),
    initialAge: 0, lifetime: 60, body: new TextEncoder().encode(body),
  }
}

const headers = (lang: string) => ({ 'accept-language': lang })

interface Setup {
  readonly repo: EntryRepository
  readonly store: CacheStore
  /** Store round trips (get calls) so far, by every repository of this setup. */
  readonly gets: () => number
  /** Another process's repository over the same store (its own Vary memo). */
  readonly other: () => EntryRepository
  readonly pointer: () => Promise<VaryPointer | undefined>
}

/** A repository over a MemoryStore whose `get` calls (store round trips) are counted. */
function setup(): Setup {
  const memory = new MemoryStore()
  let gets = 0
  const counted = (ids: readonly string[]) => {
    gets++
    return memory.get(ids)
  }
  // MemoryStore's methods use private fields: each is called on the store itself.
  const store = new Proxy<CacheStore>(memory, {
    get(target, name) {
      if (name === 'get') return counted
      const value: unknown = Reflect.get(target, name)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  const repository = () => {
    const guarded = new GuardedStore(store, { commandTimeout: 1000, report: (error) => assert.fail(error) })
    return new EntryRepository(guarded, { report: (error) => assert.fail(error), clock: systemClock, secretHeaders: new Set(), digest: (v) => v })
  }
  const pointer = async () => {
    const [bytes] = await memory.get([key.id])
    const record = bytes === undefined ? undefined : decodeRecord(bytes)
    return record?.kind === 'vary' ? record : undefined
  }
  return { repo: repository(), store: memory, gets: () => gets, other: repository, pointer }
}

/** Writes the legacy layout by hand: a pointer with no generation, and variants at the ids they always had. */
async function writeLegacy(store: CacheStore, langs: readonly string[], listed: readonly string[] = langs): Promise<void> {
  const ids = (list: readonly string[]) => list.map((lang) => variantId(key.id, { 'accept-language': lang }))
  const pointer: VaryPointer = { kind: 'vary', key: canonical, names: NAMES, variants: ids(listed), deleteAt: null }
  await store.set([
    { id: key.id, value: encodeRecord(pointer), ttlMs: undefined },
    ...langs.map((lang, i) => ({ id: ids(langs)[i]!, value: encodeRecord(entryFor(lang, `old ${lang}`)), ttlMs: undefined })),
  ])
}

async function bodyFound(repo: EntryRepository, lang: string): Promise<string | undefined> {
  const found = await repo.find(key, headers(lang))
  return found.kind === 'entry' && found.entry.body instanceof Uint8Array ? new TextDecoder().decode(found.entry.body) : undefined
}

describe('Vary pointer generations', () => {
  it('variantId writes the generation after the dot, and without one gives the ids it always gave', () => {
    const values = { 'accept-encoding': 'gzip', 'accept-language': null }
    const legacy = variantId('0123456789abcdef0123456789abcdef', values)
    assert.equal(legacy, '0123456789abcdef0123456789abcdef.332f64066cd13fb8')
    assert.equal(variantId('0123456789abcdef0123456789abcdef', values, '0011223344556677'), '0123456789abcdef0123456789abcdef.0011223344556677332f64066cd13fb8')
  })

  it('a pointer written before generations (no generation) still finds its variants', async () => {
    const { repo, store } = setup()
    await writeLegacy(store, ['en', 'fr'])
    assert.equal(await bodyFound(repo, 'en'), 'old en')
    assert.equal(await bodyFound(repo, 'fr'), 'old fr')
    assert.equal((await repo.find(key, headers('de'))).kind, 'vary-miss')
  })

  it('a variant added under a legacy pointer keeps it legacy, so older releases still read both', async () => {
    const { repo, store, pointer } = setup()
    await writeLegacy(store, ['en'])
    const found = await repo.find(key, headers('de'))
    assert.equal(found.kind, 'vary-miss')
    assert.ok(found.kind === 'vary-miss')
    assert.equal(await repo.save(key, entryFor('de'), NAMES, found.pointer, 60_000), true)
    const after = await pointer()
    assert.equal(after?.generation, undefined)
    assert.deepEqual(after?.variants, [variantId(key.id, { 'accept-language': 'de' }), variantId(key.id, { 'accept-language': 'en' })])
    assert.equal(await bodyFound(repo, 'de'), 'in de')
    assert.equal(await bodyFound(repo, 'en'), 'old en')
  })

  it('after invalidation a legacy variant the pointer did not list is never found again', async () => {
    const { repo, store, pointer } = setup()
    await writeLegacy(store, ['en', 'fr'], ['fr'])
    await repo.invalidate([key.id])
    const [unlisted] = await store.get([variantId(key.id, { 'accept-language': 'en' })])
    assert.ok(unlisted !== undefined, 'the unlisted variant survives the delete')
    assert.equal(await repo.save(key, entryFor('fr', 'new fr'), NAMES, undefined, 60_000), true)
    assert.match((await pointer())?.generation ?? '', /^[0-9a-f]{16}$/)
    assert.equal(await bodyFound(repo, 'fr'), 'new fr')
    assert.equal((await repo.find(key, headers('en'))).kind, 'vary-miss')
  })

  it('a response whose lookup saw a pointer invalidated meanwhile is not reachable, and the pointer stays gone', async () => {
    const { repo, pointer } = setup()
    await repo.save(key, entryFor('en'), NAMES, undefined, 60_000)
    const found = await repo.find(key, headers('fr'))
    assert.ok(found.kind === 'vary-miss')
    await repo.invalidate([key.id])
    await repo.save(key, entryFor('fr', 'fr from before the write'), NAMES, found.pointer, 60_000)
    assert.equal(await pointer(), undefined)
    assert.equal((await repo.find(key, headers('fr'))).kind, 'miss')
    // The next first write starts a new generation, under which the orphan's id is not computed.
    await repo.save(key, entryFor('en', 'new en'), NAMES, undefined, 60_000)
    assert.equal((await repo.find(key, headers('fr'))).kind, 'vary-miss')
  })

  it('two saves of different variants started together in one process join one generation, both listed', async () => {
    const { repo, pointer } = setup()
    await Promise.all([repo.save(key, entryFor('en'), NAMES, undefined, 60_000), repo.save(key, entryFor('fr'), NAMES, undefined, 60_000)])
    const stored = await pointer()
    assert.equal(stored?.variants.length, 2)
    assert.equal(await bodyFound(repo, 'en'), 'in en')
    assert.equal(await bodyFound(repo, 'fr'), 'in fr')
  })

  it('more variants than a pointer lists stay reachable under its generation until it is invalidated', async () => {
    const { repo, pointer } = setup()
    const langs = Array.from({ length: 40 }, (_, i) => `l${i}`)
    for (const lang of langs) {
      const found = await repo.find(key, headers(lang))
      await repo.save(key, entryFor(lang), NAMES, found.kind === 'unavailable' ? undefined : found.pointer, 60_000)
    }
    assert.equal((await pointer())?.variants.length, 32)
    for (const lang of langs) assert.equal(await bodyFound(repo, lang), `in ${lang}`)
    await repo.invalidate([key.id])
    await repo.save(key, entryFor('l39', 'new'), NAMES, undefined, 60_000)
    for (const lang of langs.slice(0, 39)) assert.equal((await repo.find(key, headers(lang))).kind, 'vary-miss', lang)
  })

  it('a warm lookup of a varying URL is one store round trip; after another process moved the generation, two, then one', async () => {
    const { repo, other, gets } = setup()
    await repo.save(key, entryFor('en'), NAMES, undefined, 60_000)
    const roundTrips = async (lang: string, body: string): Promise<number> => {
      const before = gets()
      assert.equal(await bodyFound(repo, lang), body)
      return gets() - before
    }
    assert.equal(await roundTrips('en', 'in en'), 1)
    const elsewhere = other()
    await elsewhere.invalidate([key.id])
    await elsewhere.save(key, entryFor('en', 'new en'), NAMES, undefined, 60_000)
    assert.equal(await roundTrips('en', 'new en'), 2)
    assert.equal(await roundTrips('en', 'new en'), 1)
  })
})
