/**
 * Versioned encoding of one stored record (DESIGN.md "Storage requirements", STYLE.md habit 14).
 *
 * Layout of format 1, every released format kept as test/fixtures/entries/v<N>-*.cbor:
 *
 *   byte 0       FORMAT_VERSION
 *   byte 1       record kind: 1 entry, 2 vary pointer, 3 entry whose body is stored apart
 *   bytes 2-5    metadata length, uint32 big-endian
 *   metadata     a CBOR map: every StoredEntry field but `kind` and `body`, plus `bodySize` and `bodyCrc`
 *                (CRC-32 of the body); for kind 3 `bodyRef` ({ id, size, chunkSize, crcs }) instead of
 *                `bodyCrc`; or every VaryPointer field but `kind`
 *   body         the raw body bytes (kind 1 only), so a reader can slice or stream it without a copy
 *
 * Kind 3 was added within format 1: readers that predate it refuse the kind, which is a miss.
 *
 * Decoding never throws: stored bytes come from a shared Redis that anyone with access can write, so
 * anything unexpected (a future version, truncation, corruption, hostile CBOR) is `undefined`, a miss.
 * The metadata passes two gates: a structural scan that admits only the plain CBOR our encoder writes
 * (text-keyed maps, arrays, text, numbers, true/false/null; no tags, byte strings or indefinite lengths,
 * nesting at most MAX_DEPTH deep), then a schema check that rebuilds each field into a fresh object.
 */
import { crc32 } from 'node:zlib'
import { Decoder, Encoder, isNativeAccelerationEnabled, type Options } from 'cbor-x'
import { InvalidEntryError } from './errors.js'
import { isInline, MAX_VARIANTS, type ExternalBody, type StoredEntry, type StoredRecord, type VaryPointer, type VaryValues } from './entry.js'
import type { HeaderRecord } from './headers.js'

export const FORMAT_VERSION = 1

/** Bytes before the metadata: version, kind, metadata length. */
export const HEADER_BYTES = 6

/** An entry without its body, as the admin listing reads it. */
export type RecordMeta = (Omit<StoredEntry, 'body'> & { readonly bodySize: number }) | VaryPointer

/**
 * True when cbor-x decodes strings with its native `cbor-extract` addon, false when it uses its
 * JavaScript reader (addon missing, or CBOR_NATIVE_ACCELERATION_DISABLED=true). Both read the same bytes.
 */
export const nativeAcceleration: boolean = isNativeAccelerationEnabled

const KIND_ENTRY = 1
const KIND_VARY = 2
const KIND_EXTERNAL = 3
/** Bound on an external body's chunk list (64 GiB at the default chunk size). */
const MAX_CHUNKS = 256 * 1024

/** Limits on what a decoded record may hold; the metadata is small, so these bound work on hostile input. */
const MAX_METADATA_BYTES = 1024 * 1024
const MAX_HEADER_FIELDS = 1000
const MAX_FIELD_LINES = 1000
const MAX_FIELD_VALUE_LENGTH = 64 * 1024
const MAX_VARY_NAMES = 1000
/** Root map → headers map → array of lines; one spare level. */
const MAX_DEPTH = 4

// Plain data only: no record structures (useRecords), no structured-clone or Uint8Array tags, no string
// bundling or packing, doubles kept as doubles (useFloat32 0, so Infinity and epoch ms stay exact), and
// 64-bit integers read as numbers (the scan below refuses any beyond 2^53 - 1) instead of BigInt.
const cborOptions: Options & { int64AsNumber: boolean } = {
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
  bundleStrings: false,
  tagUint8Array: false,
  pack: false,
  useFloat32: 0,
  variableMapSize: false,
  useToJSON: false,
  int64AsNumber: true,
}
const encoder = new Encoder({ ...cborOptions })
const decoder = new Decoder({ ...cborOptions })

type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string }

export function encodeRecord(record: StoredRecord): Uint8Array {
  const kind = record.kind === 'vary' ? KIND_VARY : isInline(record.body) ? KIND_ENTRY : KIND_EXTERNAL
  const metadata = record.kind === 'entry' ? entryMetadata(record) : pointerMetadata(record)
  const checked = kind === KIND_VARY ? validatePointer(metadata) : validateEntryMeta(metadata, kind)
  if (!checked.ok) throw new InvalidEntryError(checked.reason)
  // The encoder returns a view of its reusable buffer: copy before the next encode.
  const meta = encoder.encode(metadata)
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
 * The record, with `body` a view into `bytes`; undefined when anything fails to check. Never throws.
 * `verifyBody: false` skips the body's CRC, for bytes that never left this process (MemoryStore).
 */
export function decodeRecord(bytes: Uint8Array, options?: { readonly verifyBody?: boolean }): StoredRecord | undefined {
  const result = decode(bytes, true, options?.verifyBody ?? true)
  return result.ok ? (result.value as StoredRecord) : undefined
}

/**
 * The metadata alone, for listings. `bytes` may be the whole record or only its first metadataEnd()
 * bytes: the body is neither read nor checked (its CRC is checked by decodeRecord).
 */
export function decodeMeta(bytes: Uint8Array): RecordMeta | undefined {
  const result = decode(bytes, false)
  return result.ok ? (result.value as RecordMeta) : undefined
}

/** Why decodeRecord refuses `bytes`, for error reports (CorruptEntryError's reason); undefined when it decodes. */
export function decodeFailure(bytes: Uint8Array): string | undefined {
  const result = decode(bytes, true)
  return result.ok ? undefined : result.reason
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

  const scan = scanPlainCbor(bytes, HEADER_BYTES, metaEnd)
  if (scan !== undefined) return fail(scan)
  const view = Buffer.from(bytes.buffer, bytes.byteOffset + HEADER_BYTES, metaLength)
  const raw: unknown = decoder.decode(view)

  if (kind === KIND_VARY) {
    if (metaEnd !== bytes.length) return fail('bytes after a vary pointer')
    return validatePointer(raw)
  }
  const meta = validateEntryMeta(raw, kind)
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

// Field by field rather than with object rest/spread: this runs on every hit, and V8's rest copy of a
// fifteen-field object costs more than decoding its CBOR.
function entryOf(m: EntryMeta, body: Uint8Array | ExternalBody): StoredEntry {
  return {
    kind: 'entry', key: m.key, url: m.url, method: m.method, status: m.status, statusText: m.statusText, headers: m.headers,
    vary: m.vary, requestTime: m.requestTime, responseTime: m.responseTime, initialAge: m.initialAge, lifetime: m.lifetime, body,
  }
}

function metaOf(m: EntryMeta): RecordMeta {
  return {
    kind: 'entry', key: m.key, url: m.url, method: m.method, status: m.status, statusText: m.statusText, headers: m.headers,
    vary: m.vary, requestTime: m.requestTime, responseTime: m.responseTime, initialAge: m.initialAge, lifetime: m.lifetime, bodySize: m.bodySize,
  }
}

/**
 * Walks the CBOR item in bytes[start, end) without building it and refuses anything our encoder never
 * writes. This is what neutralises cbor-x's tag extensions (tag 1 → Date, 258 → Set, RegExp, typed
 * arrays, record definitions, shared references): no tag reaches the decoder. It also refuses 64-bit
 * integers beyond 2^53 - 1 (cbor-x would make a BigInt), and bounds nesting without recursion, so a
 * 100,000-deep array costs one step per byte and never the stack. Returns the reason, or undefined.
 */
function scanPlainCbor(bytes: Uint8Array, start: number, end: number): string | undefined {
  if (start >= end) return 'empty metadata'
  if (bytes[start]! >> 5 !== 5) return 'metadata is not a map'
  // Open containers: items still expected and whether it is a map (even count left → a key comes next).
  const remaining: number[] = [1]
  const isMap: boolean[] = [false]
  let pos = start
  while (remaining.length > 0) {
    const top = remaining.length - 1
    if (remaining[top] === 0) {
      remaining.pop()
      isMap.pop()
      continue
    }
    const keyNext = isMap[top]! && remaining[top]! % 2 === 0
    remaining[top]!--
    if (pos >= end) return 'metadata truncated'
    const initial = bytes[pos++]!
    const major = initial >> 5
    const info = initial & 0x1f
    if (keyNext && major !== 3) return 'map key is not a text string'

    if (major === 7) {
      if (info === 20 || info === 21 || info === 22) continue // false, true, null
      const floatBytes = info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
      if (floatBytes === 0) return `simple value ${info} not allowed`
      if (end - pos < floatBytes) return 'metadata truncated'
      pos += floatBytes
      continue
    }
    let arg: number
    if (info < 24) arg = info
    else if (info === 24 || info === 25 || info === 26 || info === 27) {
      const size = 1 << (info - 24)
      if (end - pos < size) return 'metadata truncated'
      if (size === 8) {
        const high = readUint32(bytes, pos)
        if (high > 0x1fffff) return 'integer or length beyond 2^53 - 1'
        arg = high * 0x1_0000_0000 + readUint32(bytes, pos + 4)
      } else arg = size === 4 ? readUint32(bytes, pos) : size === 2 ? (bytes[pos]! << 8) | bytes[pos + 1]! : bytes[pos]!
      pos += size
    } else return info === 31 ? 'indefinite length not allowed' : `reserved additional info ${info}`

    switch (major) {
      case 0:
      case 1:
        break
      case 2:
        return 'byte string not allowed'
      case 3:
        if (arg > end - pos) return 'metadata truncated'
        pos += arg
        break
      case 4:
      case 5: {
        // Each array item takes at least one byte and each map pair two, so a larger count is a lie.
        const items = major === 5 ? arg * 2 : arg
        if (items > end - pos) return 'metadata truncated'
        if (remaining.length > MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH}`
        remaining.push(items)
        isMap.push(major === 5)
        break
      }
      default:
        return `tag ${arg} not allowed`
    }
  }
  return pos === end ? undefined : 'bytes after the metadata'
}

// ---- schema ------------------------------------------------------------------------------------------

type EntryMeta = Omit<StoredEntry, 'body'> & { readonly bodySize: number; readonly bodyCrc: number; readonly bodyRef: ExternalBody | undefined }

const COMMON_ENTRY_FIELDS = [
  'key', 'url', 'method', 'status', 'statusText', 'headers', 'vary',
  'requestTime', 'responseTime', 'initialAge', 'lifetime', 'bodySize',
] as const
const ENTRY_FIELDS = [...COMMON_ENTRY_FIELDS, 'bodyCrc'] as const
const EXTERNAL_ENTRY_FIELDS = [...COMMON_ENTRY_FIELDS, 'bodyRef'] as const
const BODY_REF_FIELDS = ['id', 'size', 'chunkSize', 'crcs'] as const
const POINTER_FIELDS = ['key', 'names', 'variants', 'deleteAt'] as const

/** RFC 9110 §5.1 field names (tokens), lowercased as the rest of the cache keeps them. */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
/** RFC 9110 §9.1 method token. */
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** CR, LF and NUL would split or end a header line on replay (RFC 9110 §5.5). */
const UNSAFE_TEXT = /[\r\n\0]/
/** Own keys that mean something to JavaScript objects; cbor-x renames `__proto__` to `__proto_`. */
const FORBIDDEN_NAMES: ReadonlySet<string> = new Set(['__proto__', '__proto_', 'constructor', 'prototype'])

function entryMetadata(entry: StoredEntry): Record<string, unknown> {
  const { body } = entry
  const bodyFields = isInline(body)
    ? { bodySize: body.length, bodyCrc: crc32(body) }
    : { bodySize: body.size, bodyRef: { id: body.id, size: body.size, chunkSize: body.chunkSize, crcs: body.crcs } }
  return {
    key: entry.key,
    url: entry.url,
    method: entry.method,
    status: entry.status,
    statusText: entry.statusText,
    // HeaderRecord allows undefined values (an absent field); they are not stored.
    headers: Object.fromEntries(Object.entries(entry.headers).filter(([, value]) => value !== undefined)),
    vary: entry.vary ?? null,
    requestTime: entry.requestTime,
    responseTime: entry.responseTime,
    initialAge: entry.initialAge,
    lifetime: entry.lifetime,
    ...bodyFields,
  }
}

function pointerMetadata(pointer: VaryPointer): Record<string, unknown> {
  return { key: pointer.key, names: pointer.names, variants: pointer.variants, deleteAt: pointer.deleteAt }
}

function validateEntryMeta(raw: unknown, kind: number): Result<EntryMeta> {
  const object = exactObject<string>(raw, kind === KIND_EXTERNAL ? EXTERNAL_ENTRY_FIELDS : ENTRY_FIELDS)
  if (typeof object === 'string') return fail(object)
  const { key, url, method, status, statusText, headers, vary, requestTime, responseTime, initialAge, lifetime, bodySize } = object
  const bodyCrc = kind === KIND_EXTERNAL ? 0 : object['bodyCrc']
  const bodyRef = kind === KIND_EXTERNAL ? validateBodyRef(object['bodyRef'], bodySize) : undefined
  if (typeof bodyRef === 'string') return fail(bodyRef)
  if (typeof key !== 'string' || key === '') return fail('key is not a non-empty string')
  if (typeof url !== 'string' || url === '') return fail('url is not a non-empty string')
  if (typeof method !== 'string' || !METHOD.test(method)) return fail('method is not a token')
  if (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 999) return fail('status is not an integer from 100 to 999')
  if (typeof statusText !== 'string' || statusText.length > MAX_FIELD_VALUE_LENGTH || UNSAFE_TEXT.test(statusText)) return fail('statusText is not a safe string')
  const headerRecord = validateHeaders(headers)
  if (typeof headerRecord === 'string') return fail(headerRecord)
  const varyValues = vary === null ? undefined : validateVaryValues(vary)
  if (typeof varyValues === 'string') return fail(varyValues)
  for (const [name, value] of [['requestTime', requestTime], ['responseTime', responseTime], ['initialAge', initialAge]] as const) {
    if (!isTime(value)) return fail(`${name} is not a finite number ≥ 0`)
  }
  if (typeof lifetime !== 'number' || Number.isNaN(lifetime) || lifetime < 0) return fail('lifetime is not a number ≥ 0')
  if (!Number.isSafeInteger(bodySize) || (bodySize as number) < 0) return fail('bodySize is not an integer ≥ 0')
  if (!Number.isInteger(bodyCrc) || (bodyCrc as number) < 0 || (bodyCrc as number) > 0xffffffff) return fail('bodyCrc is not a uint32')
  return {
    ok: true,
    value: {
      kind: 'entry',
      key,
      url,
      method,
      status: status as number,
      statusText,
      headers: headerRecord,
      vary: varyValues,
      requestTime: requestTime as number,
      responseTime: responseTime as number,
      initialAge: initialAge as number,
      lifetime,
      bodySize: bodySize as number,
      bodyCrc: bodyCrc as number,
      bodyRef,
    },
  }
}

/** An external body reference: a store id, and one CRC per chunk of `size` bytes. */
function validateBodyRef(raw: unknown, bodySize: unknown): ExternalBody | string {
  const object = exactObject(raw, BODY_REF_FIELDS)
  if (typeof object === 'string') return `bodyRef: ${object}`
  const { id, size, chunkSize, crcs } = object
  if (typeof id !== 'string' || !/^[0-9a-f]{1,64}(\.[0-9a-f]{1,64})?~[0-9a-f]{1,64}$/.test(id)) return 'bodyRef.id is not a body id'
  if (!Number.isSafeInteger(size) || (size as number) < 0 || size !== bodySize) return 'bodyRef.size does not match bodySize'
  if (!Number.isSafeInteger(chunkSize) || (chunkSize as number) <= 0) return 'bodyRef.chunkSize is not a positive integer'
  if (!Array.isArray(crcs) || crcs.length > MAX_CHUNKS || crcs.length !== Math.ceil((size as number) / (chunkSize as number))) {
    return 'bodyRef.crcs does not have one CRC per chunk'
  }
  const list: number[] = []
  for (const crc of crcs as unknown[]) {
    if (!Number.isInteger(crc) || (crc as number) < 0 || (crc as number) > 0xffffffff) return 'bodyRef.crcs holds something other than a uint32'
    list.push(crc as number)
  }
  return { id, size: size as number, chunkSize: chunkSize as number, crcs: list }
}

function validatePointer(raw: unknown): Result<VaryPointer> {
  const object = exactObject(raw, POINTER_FIELDS)
  if (typeof object === 'string') return fail(object)
  const { key, names, variants, deleteAt } = object
  if (typeof key !== 'string' || key === '') return fail('key is not a non-empty string')
  if (!Array.isArray(names) || names.length > MAX_VARY_NAMES) return fail(`names is not an array of at most ${MAX_VARY_NAMES}`)
  const nameList: string[] = []
  for (const name of names as unknown[]) {
    if (typeof name !== 'string' || !isFieldName(name)) return fail('names holds something other than a lowercase field name')
    if (nameList.includes(name)) return fail(`names repeats ${name}`)
    nameList.push(name)
  }
  if (!Array.isArray(variants) || variants.length > MAX_VARIANTS) return fail(`variants is not an array of at most ${MAX_VARIANTS}`)
  const variantList: string[] = []
  for (const id of variants as unknown[]) {
    if (typeof id !== 'string' || id === '' || id.length > 256) return fail('variants holds something other than an id')
    variantList.push(id)
  }
  if (deleteAt !== null && !isTime(deleteAt)) return fail('deleteAt is neither null nor a finite number ≥ 0')
  return { ok: true, value: { kind: 'vary', key, names: nameList, variants: variantList, deleteAt } }
}

function validateHeaders(raw: unknown): HeaderRecord | string {
  const entries = plainEntries(raw, MAX_HEADER_FIELDS, 'headers')
  if (typeof entries === 'string') return entries
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of entries) {
    if (!isFieldName(name)) return `header name ${JSON.stringify(name.slice(0, 40))} is not a lowercase token`
    if (typeof value === 'string') {
      if (!isFieldValue(value)) return `header ${name} has an unsafe or oversized value`
      out[name] = value
    } else if (Array.isArray(value)) {
      if (value.length === 0 || value.length > MAX_FIELD_LINES) return `header ${name} has ${value.length} lines`
      const lines: string[] = []
      for (const line of value as unknown[]) {
        if (typeof line !== 'string' || !isFieldValue(line)) return `header ${name} has an unsafe or oversized line`
        lines.push(line)
      }
      out[name] = lines
    } else return `header ${name} is neither a string nor an array of strings`
  }
  return out
}

function validateVaryValues(raw: unknown): VaryValues | string {
  const entries = plainEntries(raw, MAX_VARY_NAMES, 'vary')
  if (typeof entries === 'string') return entries
  const out: Record<string, string | null> = {}
  for (const [name, value] of entries) {
    if (!isFieldName(name)) return `vary name ${JSON.stringify(name.slice(0, 40))} is not a lowercase token`
    if (value !== null && (typeof value !== 'string' || !isFieldValue(value))) return `vary value of ${name} is neither null nor a safe string`
    out[name] = value
  }
  return out
}

/** The own entries of a plain object with at most `max` keys, or the reason it is not one. */
function plainEntries(raw: unknown, max: number, what: string): Array<[string, unknown]> | string {
  if (!isPlainObject(raw)) return `${what} is not a plain object`
  const entries = Object.entries(raw)
  if (entries.length > max) return `${what} has more than ${max} fields`
  return entries
}

/** The object when it has exactly `fields` as own keys, else the reason. */
function exactObject<F extends string>(raw: unknown, fields: readonly F[]): Record<F, unknown> | string {
  if (!isPlainObject(raw)) return 'metadata is not a plain object'
  const keys = Object.keys(raw)
  for (const key of keys) if (!(fields as readonly string[]).includes(key)) return `unexpected field ${JSON.stringify(key.slice(0, 40))}`
  for (const field of fields) if (!Object.hasOwn(raw, field)) return `missing field ${field}`
  return raw as Record<F, unknown>
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function isFieldName(value: string): boolean {
  return value.length <= 256 && FIELD_NAME.test(value) && !FORBIDDEN_NAMES.has(value)
}

function isFieldValue(value: string): boolean {
  return value.length <= MAX_FIELD_VALUE_LENGTH && !UNSAFE_TEXT.test(value)
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0
}

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason }
}
