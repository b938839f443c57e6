import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { encode as looseEncode } from 'cbor-x'
import { FORMAT_VERSION, HEADER_BYTES, decodeMeta, decodeRecord, encodeRecord, metadataEnd, tryDecodeRecord } from '../lib/codec/frame.js'
import { nativeAcceleration } from '../lib/codec/plain-cbor.js'
import { InvalidEntryError } from '../lib/errors.js'
import { CacheError } from '../lib/errors.js'
import type { StoredEntry, StoredRecord, VaryPointer } from '../lib/entry.js'
import { V1_SAMPLES } from './fixtures/samples.js'
import { prng } from './helpers/prng.js'

/** An entry whose body is stored inline (format kind 1). */
type InlineEntry = StoredEntry & { readonly body: Uint8Array }

/** The inline body of a decoded entry; fails the test when the body is external. */
function inlineBody(record: StoredRecord | undefined): Uint8Array {
  assert.ok(record?.kind === 'entry' && record.body instanceof Uint8Array, 'expected an entry with an inline body')
  return record.body
}

const entry: InlineEntry = {
  kind: 'entry',
  key: '["v1","GET","https://example.com/",null,[],null]',
  url: 'https://example.com/',
  method: 'GET',
  status: 200,
  statusText: 'OK',
  headers: { 'content-type': 'text/html', 'set-link': ['a', 'b'] },
  vary: { accept: 'text/html', 'accept-language': null, 'x-empty': '' },
  requestTime: 1_712_345_678_901,
  responseTime: 1_712_345_679_000,
  initialAge: 2,
  lifetime: 300,
  body: new TextEncoder().encode('<p>hello</p>'),
}

const pointer: VaryPointer = {
  kind: 'vary',
  key: entry.key,
  names: ['accept', 'accept-language'],
  variants: ['aa.bb', 'aa.cc'],
  deleteAt: null,
}

/** Why tryDecodeRecord refuses `bytes` (the CorruptEntryError reason), or undefined when it decodes. */
function decodeFailure(bytes: Uint8Array): string | undefined {
  const result = tryDecodeRecord(bytes)
  return result.ok ? undefined : result.reason
}

/** Metadata an attacker controls, framed with a correct header, so it reaches the scan and schema. */
function frame(metadata: Uint8Array, kind = 1, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + metadata.length + body.length)
  out[0] = FORMAT_VERSION
  out[1] = kind
  new DataView(out.buffer).setUint32(2, metadata.length)
  out.set(metadata, HEADER_BYTES)
  out.set(body, HEADER_BYTES + metadata.length)
  return out
}

/** The metadata fields of `entry` as the encoder writes them, for tests that swap one field. */
function entryFields(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { kind: _kind, body, vary, ...rest } = entry
  return { ...rest, vary: vary ?? null, bodySize: body.length, bodyCrc: 0, ...overrides }
}

function concat(...parts: Array<Uint8Array | number[]>): Uint8Array {
  return new Uint8Array(parts.flatMap((part) => [...part]))
}

const text = (s: string): number[] => {
  const bytes = [...new TextEncoder().encode(s)]
  assert.ok(bytes.length < 24)
  return [0x60 | bytes.length, ...bytes]
}

describe('codec', () => {
  describe('round trip', () => {
    it('entry: every field and the body bytes come back', () => {
      const bytes = encodeRecord(entry)
      assert.equal(bytes[0], FORMAT_VERSION)
      const decoded = decodeRecord(bytes)
      assert.ok(decoded?.kind === 'entry')
      assert.deepEqual({ ...decoded, body: [...inlineBody(decoded)] }, { ...entry, body: [...entry.body] })
    })

    it('entry: the body is a view of the input, not a copy', () => {
      const bytes = encodeRecord(entry)
      const decoded = decodeRecord(bytes)
      assert.ok(decoded?.kind === 'entry')
      const body = inlineBody(decoded)
      assert.equal(body.buffer, bytes.buffer)
      assert.equal(body.byteOffset + body.length, bytes.byteOffset + bytes.length)
    })

    it('entry: a 3 MiB body with lifetime Infinity and no vary', () => {
      const body = new Uint8Array(3 * 1024 * 1024)
      const random = prng(3)
      for (let i = 0; i < body.length; i++) body[i] = (random() * 256) | 0
      const big: StoredEntry = { ...entry, vary: undefined, lifetime: Infinity, body }
      const decoded = decodeRecord(encodeRecord(big))
      assert.ok(decoded?.kind === 'entry')
      assert.equal(decoded.lifetime, Infinity)
      assert.equal(decoded.vary, undefined)
      assert.ok(Buffer.from(inlineBody(decoded)).equals(Buffer.from(body)))
    })

    it('entry: headers with undefined values are stored without them', () => {
      const decoded = decodeRecord(encodeRecord({ ...entry, headers: { a: 'x', b: undefined } }))
      assert.ok(decoded?.kind === 'entry')
      assert.deepEqual(decoded.headers, { a: 'x' })
    })

    it('entry with an external body (kind 3): the reference comes back, no body bytes follow', () => {
      const ref = { id: '0123abcd~00ff', size: 600_000, chunkSize: 262_144, crcs: [1, 2, 0xffffffff] }
      const external: StoredEntry = { ...entry, body: ref }
      const bytes = encodeRecord(external)
      assert.equal(bytes[1], 3)
      assert.deepEqual(decodeRecord(bytes), external)
      const { body: _, ...rest } = external
      assert.deepEqual(decodeMeta(bytes), { ...rest, bodySize: 600_000 })
    })

    it('entry with an external body: a wrong chunk count or a bad id does not encode or decode', () => {
      const ref = { id: '0123abcd~00ff', size: 600_000, chunkSize: 262_144, crcs: [1, 2] }
      assert.throws(() => encodeRecord({ ...entry, body: ref }), InvalidEntryError)
      assert.throws(() => encodeRecord({ ...entry, body: { ...ref, crcs: [1, 2, 3], id: 'x~1' } }), InvalidEntryError)
      const good = encodeRecord({ ...entry, body: { ...ref, crcs: [1, 2, 3] } })
      assert.equal(decodeRecord(new Uint8Array([...good, 0])), undefined, 'bytes after the metadata')
    })

    it('verifyBody: false skips the CRC (for bytes that never left the process), and only that', () => {
      const bytes = encodeRecord(entry)
      const damaged = new Uint8Array(bytes)
      damaged[damaged.length - 1]! ^= 0xff
      assert.equal(decodeRecord(damaged), undefined)
      assert.ok(decodeRecord(damaged, { verifyBody: false })?.kind === 'entry')
      assert.equal(decodeRecord(damaged.subarray(0, damaged.length - 1), { verifyBody: false }), undefined, 'the length is still checked')
    })

    it('vary pointer', () => {
      assert.deepEqual(decodeRecord(encodeRecord(pointer)), pointer)
      const timed = { ...pointer, deleteAt: 1_712_345_679_000 }
      assert.deepEqual(decodeRecord(encodeRecord(timed)), timed)
    })

    it('vary pointer with a generation; one without stays without (the legacy generation, its bytes unchanged)', () => {
      const generational: VaryPointer = { ...pointer, generation: '0123456789abcdef' }
      assert.deepEqual(decodeRecord(encodeRecord(generational)), generational)
      const legacy = decodeRecord(encodeRecord(pointer))
      assert.ok(legacy?.kind === 'vary')
      assert.equal(Object.hasOwn(legacy, 'generation'), false)
      assert.equal(encodeRecord(generational).length, encodeRecord(pointer).length + 1 + 'generation'.length + 1 + 16)
    })

    it('decoded records are fresh plain objects', () => {
      const decoded = decodeRecord(encodeRecord(entry))
      assert.ok(decoded?.kind === 'entry')
      assert.equal(Object.getPrototypeOf(decoded), Object.prototype)
      assert.equal(Object.getPrototypeOf(decoded.headers), Object.prototype)
    })

    it('decodeMeta reads the whole record or only its metadata prefix, without the body', () => {
      const bytes = encodeRecord(entry)
      const end = metadataEnd(bytes.subarray(0, HEADER_BYTES))
      assert.equal(typeof end, 'number')
      const { body, ...rest } = entry
      const expected = { ...rest, bodySize: body.length }
      assert.deepEqual(decodeMeta(bytes), expected)
      assert.deepEqual(decodeMeta(bytes.subarray(0, end)), expected)
      assert.equal(decodeRecord(bytes.subarray(0, end)), undefined)
      assert.deepEqual(decodeMeta(encodeRecord(pointer)), pointer)
    })

    it('reports whether cbor-x uses its native string reader', () => {
      assert.equal(typeof nativeAcceleration, 'boolean')
    })
  })

  describe('encodeRecord refuses records that would never decode', () => {
    const rows: Array<[string, StoredRecord]> = [
      ['uppercase header name', { ...entry, headers: { 'Content-Type': 'x' } }],
      ['CR LF in a header value', { ...entry, headers: { a: 'x\r\ny: z' } }],
      ['status 99', { ...entry, status: 99 }],
      ['status 200.5', { ...entry, status: 200.5 }],
      ['NaN responseTime', { ...entry, responseTime: Number.NaN }],
      ['negative lifetime', { ...entry, lifetime: -1 }],
      ['infinite initialAge', { ...entry, initialAge: Infinity }],
      ['__proto__ header name', { ...entry, headers: JSON.parse('{"__proto__":"x"}') as Record<string, string> }],
      ['vary value a number', { ...entry, vary: { a: 1 as unknown as string } }],
      ['empty key', { ...entry, key: '' }],
      ['too many variants', { ...pointer, variants: Array.from({ length: 33 }, (_, i) => `id.${i}`) }],
      ['repeated vary name', { ...pointer, names: ['accept', 'accept'] }],
      ['pointer generation not 16 hex digits', { ...pointer, generation: '0123456789ABCDEF' }],
      ['empty pointer generation', { ...pointer, generation: '' }],
    ]
    for (const [name, record] of rows) {
      it(name, () => {
        assert.throws(() => encodeRecord(record), (error: unknown) => error instanceof InvalidEntryError && error instanceof CacheError)
      })
    }
  })

  describe('released format fixtures (test/fixtures/entries)', () => {
    const dir = fileURLToPath(new URL('./fixtures/entries/', import.meta.url))
    const expected = Object.fromEntries(Object.entries(V1_SAMPLES).map(([name, record]) => [`${name}.cbor`, record]))

    it('every v1 fixture file has an expectation here', () => {
      const files = readdirSync(dir).filter((name) => /^v1-.*\.cbor$/.test(name)).sort()
      assert.deepEqual(files, Object.keys(expected).sort())
    })

    for (const [file, record] of Object.entries(expected)) {
      it(`${file} decodes to the expected record`, () => {
        const decoded = decodeRecord(new Uint8Array(readFileSync(dir + file)))
        assert.deepEqual(decoded, record)
      })
      it(`${file} is still written byte for byte by the current encoder`, () => {
        assert.deepEqual(encodeRecord(record), new Uint8Array(readFileSync(dir + file)))
      })
    }
  })

  describe('hostile or corrupt input decodes to undefined without throwing', () => {
    const valid = encodeRecord(entry)
    const metaLength = new DataView(valid.buffer).getUint32(2)

    function refused(bytes: Uint8Array, bodyOnly: boolean): void {
      assert.equal(decodeRecord(bytes), undefined)
      // decodeMeta never reads the body, so a fault there is for decodeRecord alone to catch.
      if (bodyOnly) assert.equal(decodeMeta(bytes)?.kind, 'entry')
      else assert.equal(decodeMeta(bytes), undefined)
    }

    it('2,000 random buffers (fixed seed), half with a well-formed header', () => {
      const random = prng(42)
      for (let n = 0; n < 2000; n++) {
        const body = new Uint8Array(Math.floor(random() * 300))
        for (let i = 0; i < body.length; i++) body[i] = (random() * 256) | 0
        const bytes = n % 2 === 0 ? body : frame(body, 1 + (n % 4 === 1 ? 0 : 1))
        assert.equal(decodeRecord(bytes), undefined, `buffer ${n}`)
        assert.equal(decodeMeta(bytes), undefined, `buffer ${n}`)
      }
    })

    it('2,000 single-byte mutations of a valid entry never throw, and body mutations are caught', () => {
      const random = prng(7)
      for (let n = 0; n < 2000; n++) {
        const bytes = valid.slice()
        const at = Math.floor(random() * bytes.length)
        bytes[at] = bytes[at]! ^ (1 + Math.floor(random() * 255))
        const decoded = decodeRecord(bytes)
        if (at >= HEADER_BYTES + metaLength) assert.equal(decoded, undefined, `mutation at ${at}`)
        else assert.ok(decoded === undefined || decoded.kind === 'entry' || decoded.kind === 'vary')
      }
    })

    it('every truncation of a valid entry and of a valid pointer', () => {
      for (const bytes of [valid, encodeRecord(pointer)]) {
        for (let length = 0; length < bytes.length; length++) {
          assert.equal(decodeRecord(bytes.subarray(0, length)), undefined, `length ${length}`)
        }
      }
    })

    const rows: Array<[string, () => Uint8Array, RegExp]> = [
      ['empty input', () => new Uint8Array(0), /shorter than the header/],
      ['unknown version byte 0', () => concat([0], valid.subarray(1)), /unknown format version 0/],
      ['unknown version byte 2', () => concat([2], valid.subarray(1)), /unknown format version 2/],
      ['unknown version byte 255', () => concat([255], valid.subarray(1)), /unknown format version 255/],
      ['unknown kind 0', () => concat([1, 0], valid.subarray(2)), /unknown record kind 0/],
      ['unknown kind 4', () => concat([1, 4], valid.subarray(2)), /unknown record kind 4/],
      ['pointer kind on entry metadata', () => concat([1, 2], valid.subarray(2)), /bytes after a vary pointer/],
      ['entry kind on pointer metadata', () => concat([1, 1], encodeRecord(pointer).subarray(2)), /unexpected field/],
      ['bad body CRC', () => {
        const bytes = valid.slice()
        bytes[bytes.length - 1]! ^= 0x01
        return bytes
      }, /checksum mismatch/],
      ['body one byte longer than bodySize', () => concat(valid, [0]), /body is 13 bytes/],
      ['body one byte shorter than bodySize', () => valid.subarray(0, valid.length - 1), /body is 11 bytes/],
      ['bytes after a vary pointer', () => concat(encodeRecord(pointer), [0]), /bytes after a vary pointer/],
      ['metadata length 0xFFFFFFFF', () => concat([1, 1, 0xff, 0xff, 0xff, 0xff], valid.subarray(6)), /metadata length 4294967295 over/],
      ['metadata length 0', () => concat([1, 1, 0, 0, 0, 0], valid.subarray(6)), /empty metadata/],
      ['metadata length one short', () => {
        const bytes = valid.slice()
        new DataView(bytes.buffer).setUint32(2, metaLength - 1)
        return bytes
      }, /truncated/],
      ['metadata is a CBOR array', () => frame(looseEncode([1, 2, 3])), /not a map/],
      ['metadata is a CBOR string', () => frame(looseEncode('entry')), /not a map/],
      ['metadata is a CBOR number', () => frame(looseEncode(42)), /not a map/],
      ['metadata is CBOR null', () => frame(new Uint8Array([0xf6])), /not a map/],
      ['metadata with a missing field', () => {
        const { url: _, ...fields } = entryFields()
        return frame(looseEncode(fields))
      }, /missing field url/],
      ['metadata with an extra field', () => frame(looseEncode(entryFields({ extra: 1 }))), /unexpected field "extra"/],
      ['top-level __proto__ key', () => frame(looseEncode({ ...entryFields(), ...(JSON.parse('{"__proto__":{"polluted":true}}') as object) })), /unexpected field "__proto_"/],
      ['__proto__ header name', () => frame(looseEncode(entryFields({ headers: JSON.parse('{"__proto__":{"polluted":"yes"}}') }))), /header name "__proto_"/],
      ['constructor header name', () => frame(looseEncode(entryFields({ headers: { constructor: 'x' } }))), /header name "constructor"/],
      ['__proto__ vary name', () => frame(looseEncode(entryFields({ vary: JSON.parse('{"__proto__":null}') }))), /vary name "__proto_"/],
      ['tag 1 Date as requestTime', () => frame(looseEncode(entryFields({ requestTime: new Date(0) }))), /tag 1 not allowed/],
      ['tag 258 Set as headers', () => frame(looseEncode(entryFields({ headers: new Set(['a']) }))), /tag 258 not allowed/],
      ['RegExp as statusText', () => frame(looseEncode(entryFields({ statusText: /x/g }))), /tag 27 not allowed/],
      ['tag 0 date string as url', () => frame(concat([0xa1], text('url'), tagged(0, text('2020-01-01T00:00:00Z')))), /tag 0 not allowed/],
      ['typed array tag as a header value', () => frame(looseEncode(entryFields({ headers: { a: new Float64Array(2) } }))), /tag 86 not allowed/],
      ['byte string as the body size', () => frame(concat([0xa1], text('bodySize'), [0x44, 1, 2, 3, 4])), /byte string not allowed/],
      ['BigInt beyond 2^53 as responseTime', () => frame(looseEncode(entryFields({ responseTime: 2n ** 60n }))), /beyond 2\^53/],
      ['BigInt bignum tag as status', () => frame(looseEncode(entryFields({ status: 2n ** 70n }))), /tag 2 not allowed/],
      ['non-text map key', () => frame(concat([0xa1, 0x01, 0x02])), /map key is not a text string/],
      ['indefinite-length map', () => frame(concat([0xbf], text('key'), text('x'), [0xff])), /indefinite length/],
      ['undefined simple value as vary', () => frame(looseEncode(entryFields({ vary: undefined }))), /simple value 23/],
      ['NaN lifetime', () => frame(looseEncode(entryFields({ lifetime: Number.NaN }))), /lifetime/],
      ['status 1000', () => frame(looseEncode(entryFields({ status: 1000 }))), /status/],
      ['negative requestTime', () => frame(looseEncode(entryFields({ requestTime: -1 }))), /requestTime/],
      ['header value over 64 KiB', () => frame(looseEncode(entryFields({ headers: { a: 'x'.repeat(64 * 1024 + 1) } }))), /oversized/],
      ['1,001 header fields', () => frame(looseEncode(entryFields({ headers: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`h${i}`, 'v'])) }))), /more than 1000 fields/],
      ['header value holding a newline', () => frame(looseEncode(entryFields({ headers: { a: 'b\nc' } }))), /unsafe/],
      ['33 variants in a pointer', () => frame(looseEncode({ key: pointer.key, names: pointer.names, deleteAt: null, variants: Array.from({ length: 33 }, (_, i) => `v${i}`) }), 2), /variants/],
      ['pointer names not strings', () => frame(looseEncode({ key: 'k', names: [1], variants: [], deleteAt: null }), 2), /names/],
      ['pointer generation a number', () => frame(looseEncode({ key: 'k', names: [], variants: [], deleteAt: null, generation: 7 }), 2), /generation/],
      ['pointer generation too long', () => frame(looseEncode({ key: 'k', names: [], variants: [], deleteAt: null, generation: 'a'.repeat(17) }), 2), /generation/],
      ['pointer generation null', () => frame(looseEncode({ key: 'k', names: [], variants: [], deleteAt: null, generation: null }), 2), /generation/],
      ['100,000-deep nested arrays', () => frame(concat([0xa1], text('key'), new Uint8Array(100_000).fill(0x81), [0xf6])), /nesting deeper/],
      ['100,000-deep nested maps', () => frame(concat(...Array.from({ length: 100_000 }, () => [0xa1, 0x61, 0x61]), [0xf6])), /nesting deeper/],
      ['byte string header claiming 2^32 bytes', () => frame(concat([0xa1], text('key'), [0x5b, 0, 0, 0, 1, 0, 0, 0, 0])), /byte string not allowed/],
      ['text string header claiming 2^32 bytes', () => frame(concat([0xa1], text('key'), [0x7b, 0, 0, 0, 1, 0, 0, 0, 0])), /truncated/],
      ['array header claiming 2^32 items', () => frame(concat([0xa1], text('key'), [0x9b, 0, 0, 0, 1, 0, 0, 0, 0])), /truncated/],
      ['map header claiming 2^32 pairs', () => frame(concat([0xbb, 0, 0, 0, 1, 0, 0, 0, 0])), /truncated/],
      ['array header claiming 2^64 - 1 items', () => frame(concat([0xa1], text('key'), [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), /beyond 2\^53/],
      ['record-definition tag (cbor-x structures)', () => frame(concat([0xa1], text('key'), [0xd9, 0xdf, 0xff, 0x83], [0x19, 0xe0, 0x00], [0x81], text('key'), text('x'))), /tag 57343 not allowed/],
    ]
    for (const [name, make, reason] of rows) {
      it(`${name}: ${reason.source}`, () => {
        const bytes = make()
        assert.match(decodeFailure(bytes) ?? '', reason)
        refused(bytes, name.startsWith('bad body') || name.startsWith('body '))
      })
    }

    it('Object.prototype is not polluted by any of the above', () => {
      for (const [, make] of rows) decodeRecord(make())
      assert.equal((Object.prototype as Record<string, unknown>)['polluted'], undefined)
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined)
    })
  })

  describe('tryDecodeRecord', () => {
    it('returns the record decodeRecord returns, or names the reason it is refused', () => {
      const bytes = encodeRecord(entry)
      assert.deepEqual(tryDecodeRecord(bytes), { ok: true, value: decodeRecord(bytes) })
      assert.equal(decodeFailure(encodeRecord(entry)), undefined)
      assert.match(decodeFailure(concat([9], encodeRecord(entry).subarray(1))) ?? '', /unknown format version 9/)
      const badCrc = encodeRecord(entry)
      badCrc[badCrc.length - 1]! ^= 0xff
      assert.match(decodeFailure(badCrc) ?? '', /checksum/)
      assert.match(decodeFailure(frame(looseEncode(entryFields({ requestTime: new Date(0) })))) ?? '', /tag/)
    })
  })
})

function tagged(tag: number, item: number[]): number[] {
  assert.ok(tag < 24)
  return [0xc0 | tag, ...item]
}
