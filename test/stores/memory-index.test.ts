import assert from 'node:assert/strict'
import { MemoryIndex } from '../../lib/stores/memory-index.js'
import type { IndexedId, IndexQuery } from '../../lib/stores/admin-source.js'
import { collect } from './store-contract.js'

/** Batches of two, so a handful of records spans several. */
function index(): MemoryIndex {
  return new MemoryIndex(2)
}

function fields(url: string, storedAt: number, tags: readonly string[] = []): { url: string; tags: readonly string[]; storedAt: number } {
  return { url, tags, storedAt }
}

/** Walks a `before` query as the deletes do: each batch is handed to `consume` before the next is asked for. */
async function walk(memory: MemoryIndex, query: IndexQuery, consume: (batch: readonly string[]) => void = () => {}): Promise<string[][]> {
  const seen: string[][] = []
  for await (const batch of memory.indexed(query)) {
    const ids = batch.map(({ id }) => id)
    seen.push(ids)
    consume(ids)
  }
  return seen
}

/** The batches of ids of an indexed() read; MemoryIndex gives no version (its unindex needs none). */
async function ids(batches: AsyncIterable<readonly IndexedId[]>): Promise<string[][]> {
  return (await collect(batches)).map((batch) => batch.map((member) => {
    assert.deepEqual(Object.keys(member), ['id'])
    return member.id
  }))
}

describe('MemoryIndex', () => {
  it("yields a URL's and a tag's ids in batches, as indexed when the call began", async () => {
    const memory = index()
    for (const id of ['a1', 'a2', 'a3']) memory.record(id, fields('https://example.com/a', 1, ['t', 'x']))
    memory.record('b1', fields('https://example.com/b', 1, ['t']))
    const byUrl = memory.indexed({ kind: 'url', url: 'https://example.com/a' })
    const byTag = memory.indexed({ kind: 'tag', tag: 't' })
    // Written and dropped after the calls: neither disturbs the batches they hand out.
    memory.record('a4', fields('https://example.com/a', 2, ['t']))
    memory.drop('a1')
    assert.deepEqual(await ids(byUrl), [['a1', 'a2'], ['a3']])
    assert.deepEqual((await ids(byTag)).flat().sort(), ['a1', 'a2', 'a3', 'b1'])
    assert.deepEqual(await ids(memory.indexed({ kind: 'tag', tag: 'never' })), [])
    assert.deepEqual(await ids(memory.indexed({ kind: 'url', url: 'https://example.com/none' })), [])
  })

  it('replaces what an id was indexed under when it is recorded again, and drops it from every index', async () => {
    const memory = index()
    memory.record('a1', fields('https://example.com/old', 5, ['old', 'both', 'old']))
    memory.record('a1', fields('https://example.com/new', 9, ['new', 'both']))
    assert.deepEqual(memory.fields('a1'), fields('https://example.com/new', 9, ['new', 'both']))
    assert.deepEqual(await ids(memory.indexed({ kind: 'tag', tag: 'old' })), [])
    assert.deepEqual(await ids(memory.indexed({ kind: 'url', url: 'https://example.com/old' })), [])
    assert.deepEqual(await walk(memory, { kind: 'before', time: 9 }), [], 'its old storedAt is no longer indexed')
    assert.deepEqual(await walk(memory, { kind: 'before', time: 10 }), [['a1']])
    assert.deepEqual(memory.sizes, { records: 1, urls: 1, tags: 2, ageSlots: 2 })
    memory.drop('a1')
    memory.drop('a1')
    memory.drop('unknown')
    assert.equal(memory.fields('a1'), undefined)
    assert.deepEqual({ ...memory.sizes, ageSlots: 0 }, { records: 0, urls: 0, tags: 0, ageSlots: 0 })
  })

  it('lists the URLs indexed under a prefix, each once, and forgets a URL with its last id', async () => {
    const memory = index()
    memory.record('a1', fields('https://example.com/users/1', 1))
    memory.record('a2', fields('https://example.com/users/1', 1))
    memory.record('a3', fields('https://example.com/users/2?x=1', 1))
    memory.record('a4', fields('https://example.com/users', 1))
    memory.record('a5', fields('https://example.com/usersettings', 1))
    memory.record('a6', fields('https://other.example/users/3', 1))
    const urls = await collect(memory.urls('https://example.com/users/'))
    assert.ok(urls.every((batch) => batch.length <= 2))
    assert.deepEqual(urls.flat().sort(), ['https://example.com/users/1', 'https://example.com/users/2?x=1'])
    memory.drop('a1')
    assert.deepEqual((await collect(memory.urls('https://example.com/users/'))).flat().sort(), ['https://example.com/users/1', 'https://example.com/users/2?x=1'])
    memory.drop('a2')
    assert.deepEqual((await collect(memory.urls('https://example.com/users/'))).flat(), ['https://example.com/users/2?x=1'])
  })

  it('yields the ids stored before a time oldest first, ties in write order, whatever order they were written in', async () => {
    const memory = index()
    const written: [string, number][] = [['c', 30], ['a', 10], ['e', 50], ['b', 20], ['b2', 20], ['a0', 5], ['d', 40], ['f', 60]]
    for (const [id, storedAt] of written) memory.record(id, fields(`https://example.com/${id}`, storedAt))
    const batches = await walk(memory, { kind: 'before', time: 50 }, (batch) => batch.forEach((id) => memory.drop(id)))
    assert.deepEqual(batches, [['a0', 'a'], ['b', 'b2'], ['c', 'd']])
    assert.deepEqual(await walk(memory, { kind: 'before', time: Infinity }), [['e', 'f']])
  })

  it('finds an entry written during a before walk with an older storedAt, in the next batch', async () => {
    const memory = index()
    for (const [id, storedAt] of [['b', 20], ['c', 30], ['d', 40]] as const) memory.record(id, fields('https://example.com/', storedAt))
    let wrote = false
    const batches = await walk(memory, { kind: 'before', time: 100 }, (batch) => {
      batch.forEach((id) => memory.drop(id))
      if (!wrote) memory.record('a', fields('https://example.com/', 10))
      wrote = true
    })
    assert.deepEqual(batches, [['b', 'c'], ['a', 'd']])
  })

  it('ends a before walk whose caller drops nothing, having yielded each id once', async () => {
    const memory = index()
    for (let n = 0; n < 7; n++) memory.record(`i${n}`, fields('https://example.com/', n))
    const batches = await walk(memory, { kind: 'before', time: 5 })
    assert.deepEqual(batches, [['i0', 'i1'], ['i2', 'i3'], ['i4']])
    // Rewritten mid-walk, an id is a new record: yielded again when it is still before the time.
    let rewrote = false
    const again = await walk(memory, { kind: 'before', time: 5 }, () => {
      if (!rewrote) memory.record('i0', fields('https://example.com/', 3))
      rewrote = true
    })
    assert.deepEqual(again.flat(), ['i0', 'i1', 'i2', 'i3', 'i0', 'i4'])
  })

  it('keeps the age list within twice its records, so dropped records take no room for long', async () => {
    const memory = new MemoryIndex(500)
    for (let n = 0; n < 10_000; n++) memory.record(`e${n}`, fields(`https://example.com/${n}`, n % 997, [`t${n}`]))
    for (let n = 0; n < 10_000; n++) {
      if (n % 100 !== 0) memory.drop(`e${n}`)
      const { records, ageSlots } = memory.sizes
      assert.ok(ageSlots <= 2 * records + 65, `${ageSlots} slots for ${records} records`)
    }
    assert.deepEqual({ ...memory.sizes, ageSlots: undefined }, { records: 100, urls: 100, tags: 100, ageSlots: undefined })
    const survivors = Array.from({ length: 100 }, (_, k) => k * 100).sort((x, y) => (x % 997) - (y % 997) || x - y)
    assert.deepEqual((await walk(memory, { kind: 'before', time: Infinity })).flat(), survivors.map((n) => `e${n}`))
  })

  it('empties every index on clear', async () => {
    const memory = index()
    memory.record('a1', fields('https://example.com/', 1, ['t']))
    memory.clear()
    assert.deepEqual(memory.sizes, { records: 0, urls: 0, tags: 0, ageSlots: 0 })
    assert.deepEqual(await walk(memory, { kind: 'before', time: Infinity }), [])
  })
})
