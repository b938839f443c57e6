/**
 * The local tier's own rules (lib/stores/local-tier.ts), without Redis: it serves only while open,
 * keeps what a read got only when no invalidation or close came while the read was under way (the
 * reply and the invalidation travel on different connections), drops every range of an invalidated
 * id, and stays within its byte bound.
 */
import assert from 'node:assert/strict'
import { LocalTier } from '../../lib/stores/local-tier.js'

const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text))
const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : Buffer.from(value).toString())

/** A read whose reply the test hands over when it likes. */
function deferredRead(): { read: (ids: readonly string[]) => Promise<(Uint8Array | undefined)[]>; asked: string[][]; answer: (values: (Uint8Array | undefined)[]) => void } {
  const asked: string[][] = []
  let answer: (values: (Uint8Array | undefined)[]) => void = () => {}
  const read = (ids: readonly string[]): Promise<(Uint8Array | undefined)[]> => {
    asked.push([...ids])
    return new Promise((resolve) => (answer = resolve))
  }
  return { read, asked, answer: (values) => answer(values) }
}

/** Until `deferred`'s read has been sent (the tier first lets the event loop turn once). */
async function sent(deferred: { asked: string[][] }, count = 1): Promise<void> {
  while (deferred.asked.length < count) await new Promise((resolve) => setImmediate(resolve))
}

const reader = (values: Record<string, string>) => {
  const asked: string[][] = []
  const read = async (ids: readonly string[]): Promise<(Uint8Array | undefined)[]> => {
    asked.push([...ids])
    return ids.map((id) => (values[id] === undefined ? undefined : bytes(values[id])))
  }
  return { read, asked }
}

describe('local tier', () => {
  it('serves nothing and keeps nothing until opened', async () => {
    const tier = new LocalTier(1 << 20)
    const { read, asked } = reader({ a: 'v1' })
    assert.equal(text((await tier.through(['a'], read))[0]), 'v1')
    assert.equal(text((await tier.through(['a'], read))[0]), 'v1')
    assert.equal(asked.length, 2)
    assert.deepEqual(tier.stats(), { live: false, entries: 0, bytes: 0, hits: 0, misses: 0, drops: 0 })
  })

  it('once open, a second read of an id is served without reading', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    const { read, asked } = reader({ a: 'v1', b: 'w1' })
    assert.deepEqual((await tier.through(['a', 'b'], read)).map(text), ['v1', 'w1'])
    assert.deepEqual((await tier.through(['a', 'b'], read)).map(text), ['v1', 'w1'])
    assert.deepEqual(asked, [['a', 'b']])
    assert.equal(tier.stats().hits, 2)
  })

  it('reads only the ids it does not keep, and puts the answer back in order', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    const { read, asked } = reader({ a: 'v1', b: 'w1', c: 'x1' })
    await tier.through(['b'], read)
    assert.deepEqual((await tier.through(['a', 'b', 'c'], read)).map(text), ['v1', 'w1', 'x1'])
    assert.deepEqual(asked, [['b'], ['a', 'c']])
  })

  it('does not keep missing values', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    const { read, asked } = reader({})
    assert.deepEqual(await tier.through(['a'], read), [undefined])
    assert.deepEqual(await tier.through(['a'], read), [undefined])
    assert.equal(asked.length, 2)
  })

  it('an invalidation forgets the id, and the next read goes to the source', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    const values: Record<string, string> = { a: 'v1' }
    const { read } = reader(values)
    await tier.through(['a'], read)
    values['a'] = 'v2'
    tier.invalidate(['a'])
    assert.equal(text((await tier.through(['a'], read))[0]), 'v2')
  })

  it('a chain of hits lets the event loop turn, so an invalidation waiting there applies first', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    const values: Record<string, string> = { a: 'v1' }
    const { read } = reader(values)
    await tier.through(['a'], read)
    values['a'] = 'v2'
    // As the tracking connection's message would: a callback of the event loop, not a microtask.
    setImmediate(() => tier.invalidate(['a']))
    const seen: (string | undefined)[] = []
    for (let i = 0; i < 3; i++) seen.push(text((await tier.through(['a'], read))[0]))
    assert.deepEqual(seen, ['v2', 'v2', 'v2'])
  })

  it('a reply that comes back after an invalidation of its id is served once but not kept', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    const slow = deferredRead()
    const pending = tier.through(['a'], slow.read)
    await sent(slow)
    // The write that replaced v1 was announced before the reply holding v1 arrived.
    tier.invalidate(['a'])
    slow.answer([bytes('v1')])
    assert.equal(text((await pending)[0]), 'v1')
    assert.equal(tier.stats().entries, 0)
  })

  it('an invalidation of another id does not spoil a read', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    const slow = deferredRead()
    const pending = tier.through(['a'], slow.read)
    await sent(slow)
    tier.invalidate(['b'])
    slow.answer([bytes('v1')])
    await pending
    assert.equal(tier.stats().entries, 1)
  })

  it('of two overlapping reads of one id, the one sent after the invalidation is kept', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    const first = deferredRead()
    const before = tier.through(['a'], first.read)
    await sent(first)
    tier.invalidate(['a'])
    const second = deferredRead()
    const after = tier.through(['a'], second.read)
    await sent(second)
    first.answer([bytes('v1')])
    await before
    assert.equal(tier.stats().entries, 0)
    second.answer([bytes('v2')])
    await after
    const { read, asked } = reader({})
    assert.equal(text((await tier.through(['a'], read))[0]), 'v2')
    assert.equal(asked.length, 0)
  })

  it('a read that spans a close, or a close and reopen, keeps nothing', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    const slow = deferredRead()
    const pending = tier.through(['a'], slow.read)
    await sent(slow)
    tier.close()
    tier.open()
    slow.answer([bytes('v1')])
    await pending
    assert.equal(tier.stats().entries, 0)
  })

  it('a failed read keeps nothing and leaves no read under way', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    await assert.rejects(tier.through(['a'], async () => Promise.reject(new Error('down'))), /down/)
    const { read } = reader({ a: 'v1' })
    await tier.through(['a'], read)
    assert.equal(tier.stats().entries, 1)
  })

  it('close empties it and counts a drop; drop() empties it and keeps serving', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    const { read, asked } = reader({ a: 'v1' })
    await tier.through(['a'], read)
    tier.drop()
    assert.equal(tier.stats().entries, 0)
    assert.equal(tier.stats().live, true)
    await tier.through(['a'], read)
    tier.close()
    assert.deepEqual({ ...tier.stats(), hits: 0, misses: 0 }, { live: false, entries: 0, bytes: 0, hits: 0, misses: 0, drops: 2 })
    await tier.through(['a'], read)
    assert.equal(asked.length, 3)
  })

  it('ranges are kept per offset and length, and an invalidation of the id drops all of them', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    let reads = 0
    const range = (value: string) => async () => (reads++, bytes(value))
    assert.equal(text(await tier.rangeThrough('a~1', 0, 4, range('abcd'))), 'abcd')
    assert.equal(text(await tier.rangeThrough('a~1', 4, 4, range('efgh'))), 'efgh')
    assert.equal(text(await tier.rangeThrough('a~1', 0, 4, range('XXXX'))), 'abcd')
    assert.equal(reads, 2)
    tier.invalidate(['a~1'])
    assert.equal(tier.stats().entries, 0)
    assert.equal(text(await tier.rangeThrough('a~1', 4, 4, range('EFGH'))), 'EFGH')
  })

  it('stays within maxSize, dropping the least recently used', async () => {
    const tier = new LocalTier(4096)
    tier.open()
    const read = async (ids: readonly string[]) => ids.map(() => new Uint8Array(1000))
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) await tier.through([id], read)
    const { entries, bytes: held } = tier.stats()
    assert.ok(held <= 4096, `${held} bytes held`)
    assert.ok(entries >= 3 && entries < 6, `${entries} entries`)
    // A value over maxSize is served but never kept.
    assert.equal((await tier.through(['big'], async () => [new Uint8Array(8192)]))[0]?.byteLength, 8192)
    assert.ok(tier.stats().bytes <= 4096)
  })

  it('keeps a view of a larger buffer as a copy of its own bytes', async () => {
    const tier = new LocalTier(1 << 20)
    tier.open()
    const socketRead = Buffer.alloc(65536, 7)
    const view = socketRead.subarray(100, 110)
    await tier.through(['a'], async () => [view])
    const kept = (await tier.through(['a'], async () => assert.fail('read again')))[0]
    assert.equal(kept?.byteLength, 10)
    assert.equal(kept?.buffer.byteLength, 10)
  })
})
