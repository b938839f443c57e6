/**
 * Versioned encoding of one stored record (DESIGN.md "Storage requirements", STYLE.md habit 14): the
 * frame around the metadata, and the codec's public entry points.
 *
 * Layout of format 1, every released format kept as test/fixtures/entries/v<N>-*.cbor:
 *
 *   byte 0       FORMAT_VERSION
 *   byte 1       record kind: 1 entry, 2 vary pointer, 3 entry whose body is stored apart
 *   bytes 2-5    metadata length, uint32 big-endian
 *   metadata     a CBOR map (plain-cbor.ts) holding the entry's or pointer's fields (entry-schema.ts)
 *   body         the raw body bytes (kind 1 only), so a reader can slice or stream it without a copy
 *
 * Kind 3 was added within format 1: readers that predate it refuse the kind, which is a miss. So was a
 * vary pointer's `generation` field (entry-schema.ts): a pointer without one still decodes, as the
 * legacy generation, and readers that predate the field refuse a pointer that has it, which is a miss.
 *
 * Decoding never throws: stored bytes come from a shared Redis that anyone with access can write, so
 * anything unexpected (a future version, truncation, corruption, hostile CBOR) is refused with a reason,
 * a miss. The metadata passes two gates: plain-cbor.ts's structural scan, then entry-schema.ts's checks,
 * which rebuild each field into a fresh object.
 */
import { crc32 } from 'node:zlib'
import { InvalidEntryError } from '../errors.js'
import { isInline, type StoredRecord } from '../entry.js'
import { entryMetadata, entryOf, fail, metaOf, pointerMetadata, validateEntryMeta, validatePointer, type RecordMeta, type Result } from './entry-schema.js'
import { decodePlainCbor, encodePlainCbor, readUint32 } from './plain-cbor.js'

export type { RecordMeta, Result } from './entry-schema.js'

export const FORMAT_VERSION = 1

/** Bytes before the metadata: version, kind, metadata length. */
export const HEADER_BYTES = 6

const KIND_ENTRY = 1
const KIND_VARY = 2
const KIND_EXTERNAL = 3

/** Bound on the metadata of one record; it is small, so this bounds the work hostile input can cause. */
const MAX_METADATA_BYTES = 1024 * 1024

export function encodeRecord(record: StoredRecord): Uint8Array {
  const kind = record.kind === 'vary' ? KIND_VARY : isInline(record.body) ? KIND_ENTRY : KIND_EXTERNAL
  const metadata = record.kind === 'entry' ? entryMetadata(record) : pointerMetadata(record)
  const checked = kind === KIND_VARY ? validatePointer(metadata) : validateEntryMeta(metadata, kind === KIND_EXTERNAL)
  if (!checked.ok) throw new InvalidEntryError(checked.reason)
  // A view of the encoder's reusable buffer: copied into `out` before the next encode.
  const meta = encodePlainCbor(metadata)
  if (meta.length > MAX_METADATA_BYTES) throw new InvalidEntryError(`metadata is ${meta.length} bytes, over ${MAX_METADATA_BYTES}`)
  const body = record.kind === 'entry' && isInline(record.body) ? record.body : new Uint8Array(0)
  const out = new Uint8Array(HEADER_BYTES + meta.length + body.length)
  out[0] = FORMAT_VERSION
  out[1] = kind
  new DataView(out.buffer).setUint32(2, meta.length)
  out.set(meta, HEADER_BYTES)
  out.set(body, HEADER_BYTES + meta.length)
  return out
}

/**
 * The record, with `body` a view into `bytes`, or the reason it was refused (for CorruptEntryError).
 * Never throws. `verifyBody: false` skips the body's CRC, for bytes that never left this process (MemoryStore).
 */
export function tryDecodeRecord(bytes: Uint8Array, options?: { readonly verifyBody?: boolean }): Result<StoredRecord> {
  return decode(bytes, true, options?.verifyBody ?? true) as Result<StoredRecord>
}

/** tryDecodeRecord's record, or undefined when it is refused, for callers that do not report why. */
export function decodeRecord(bytes: Uint8Array, options?: { readonly verifyBody?: boolean }): StoredRecord | undefined {
  const result = tryDecodeRecord(bytes, options)
  return result.ok ? result.value : undefined
}

/**
 * The metadata alone, for listings. `bytes` may be the whole record or only its first metadataEnd()
 * bytes: the body is neither read nor checked (its CRC is checked by decodeRecord).
 */
export function decodeMeta(bytes: Uint8Array): RecordMeta | undefined {
  const result = decode(bytes, false)
  return result.ok ? (result.value as RecordMeta) : undefined
}

/** Where the body starts, given at least the first HEADER_BYTES bytes; lets a store fetch metadata alone. */
export function metadataEnd(header: Uint8Array): number | undefined {
  if (header.length < HEADER_BYTES || header[0] !== FORMAT_VERSION) return undefined
  const length = readUint32(header, 2)
  return length > MAX_METADATA_BYTES ? undefined : HEADER_BYTES + length
}

function decode(bytes: Uint8Array, withBody: boolean, verifyBody = true): Result<StoredRecord | RecordMeta> {
  try {
    return decodeUnsafe(bytes, withBody, verifyBody)
  } catch (error) {
    // Every known failure returns a reason; this is the boundary promise for anything unforeseen.
    return fail(`decoder threw: ${error instanceof Error ? error.message : String(error)}`)
  }
}

function decodeUnsafe(bytes: Uint8Array, withBody: boolean, verifyBody: boolean): Result<StoredRecord | RecordMeta> {
  if (!(bytes instanceof Uint8Array)) return fail('not bytes')
  if (bytes.length < HEADER_BYTES) return fail(`${bytes.length} bytes, shorter than the header`)
  if (bytes[0] !== FORMAT_VERSION) return fail(`unknown format version ${bytes[0]}`)
  const kind = bytes[1]
  if (kind !== KIND_ENTRY && kind !== KIND_VARY && kind !== KIND_EXTERNAL) return fail(`unknown record kind ${kind}`)
  const metaLength = readUint32(bytes, 2)
  if (metaLength > MAX_METADATA_BYTES) return fail(`metadata length ${metaLength} over ${MAX_METADATA_BYTES}`)
  const metaEnd = HEADER_BYTES + metaLength
  if (metaEnd > bytes.length) return fail(`metadata length ${metaLength} beyond the ${bytes.length} bytes given`)

  const raw = decodePlainCbor(bytes, HEADER_BYTES, metaEnd)
  if (!raw.ok) return raw

  if (kind === KIND_VARY) {
    if (metaEnd !== bytes.length) return fail('bytes after a vary pointer')
    return validatePointer(raw.value)
  }
  const meta = validateEntryMeta(raw.value, kind === KIND_EXTERNAL)
  if (!meta.ok) return meta
  const m = meta.value
  if (!withBody) return { ok: true, value: metaOf(m) }
  if (m.bodyRef !== undefined) {
    if (metaEnd !== bytes.length) return fail('bytes after an entry whose body is stored apart')
    return { ok: true, value: entryOf(m, m.bodyRef) }
  }
  const body = bytes.subarray(metaEnd)
  if (body.length !== m.bodySize) return fail(`body is ${body.length} bytes, metadata says ${m.bodySize}`)
  if (verifyBody && crc32(body) !== m.bodyCrc) return fail('body checksum mismatch')
  return { ok: true, value: entryOf(m, body) }
}
