/**
 * The schema of stored metadata: what the frame's CBOR map holds for an entry or a vary pointer, and the
 * checks that rebuild it, field by field, into fresh objects of known shape (DESIGN.md "Security
 * defaults": decoded entries are validated before use).
 *
 * An entry's metadata is every StoredEntry field but `kind` and `body`, plus `bodySize` and either
 * `bodyCrc` (CRC-32 of an inline body) or `bodyRef` ({ id, size, chunkSize, crcs } of a body stored
 * apart). A pointer's is every VaryPointer field but `kind`; `generation` is present only on pointers
 * that have one (those written before generations keep their exact bytes). The encoder runs the same
 * checks, so a record that would not decode is never written.
 */
import { crc32 } from 'node:zlib'
import { isInline, MAX_VARIANTS, type ExternalBody, type StoredEntry, type VaryPointer, type VaryValues } from '../entry.js'
import type { HeaderRecord } from '../headers.js'

/** A checked value, or why it was refused. */
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string }

/** An entry without its body, as the admin listing reads it. */
export type RecordMeta = (Omit<StoredEntry, 'body'> & { readonly bodySize: number }) | VaryPointer

/** An entry's metadata after validation; `bodyRef` is set for a body stored apart, `bodyCrc` (else 0) for an inline one. */
export type EntryMeta = Omit<StoredEntry, 'body'> & { readonly bodySize: number; readonly bodyCrc: number; readonly bodyRef: ExternalBody | undefined }

/** Bound on an external body's chunk list (64 GiB at the default chunk size). */
const MAX_CHUNKS = 256 * 1024
/** Limits on what a decoded record may hold; the metadata is small, so these bound work on hostile input. */
const MAX_HEADER_FIELDS = 1000
const MAX_FIELD_LINES = 1000
const MAX_FIELD_VALUE_LENGTH = 64 * 1024
const MAX_VARY_NAMES = 1000

const COMMON_ENTRY_FIELDS = [
  'key', 'url', 'method', 'status', 'statusText', 'headers', 'vary',
  'requestTime', 'responseTime', 'initialAge', 'lifetime', 'bodySize',
] as const
const ENTRY_FIELDS = [...COMMON_ENTRY_FIELDS, 'bodyCrc'] as const
const EXTERNAL_ENTRY_FIELDS = [...COMMON_ENTRY_FIELDS, 'bodyRef'] as const
const BODY_REF_FIELDS = ['id', 'size', 'chunkSize', 'crcs'] as const
const POINTER_FIELDS = ['key', 'names', 'variants', 'deleteAt'] as const
const GENERATION_POINTER_FIELDS = [...POINTER_FIELDS, 'generation'] as const

/** A vary pointer's generation (entry.ts VaryPointer): 64 random bits as lowercase hex. */
const GENERATION = /^[0-9a-f]{16}$/
/** RFC 9110 §5.1 field names (tokens), lowercased as the rest of the cache keeps them. */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
/** RFC 9110 §9.1 method token. */
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** CR, LF and NUL would split or end a header line on replay (RFC 9110 §5.5). */
const UNSAFE_TEXT = /[\r\n\0]/
/**
 * Field names never stored. cbor-x renames a `__proto__` map key to `__proto_` when it decodes, so
 * neither can round-trip. `constructor` and `prototype` could now that the records the cache builds have
 * no prototype (headers.ts), but released readers of format 1 refuse them: in a rolling upgrade they
 * would report and delete what newer writers store. Refusing them also keeps the records decoded here
 * (ordinary objects) free of own keys that shadow Object.prototype. A response carrying one of these
 * fields is served and not stored: the save reports InvalidEntryError (entry-repository.ts).
 */
const FORBIDDEN_NAMES: ReadonlySet<string> = new Set(['__proto__', '__proto_', 'constructor', 'prototype'])

/** The metadata map written for `entry`. */
export function entryMetadata(entry: StoredEntry): Record<string, unknown> {
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

/** The metadata map written for `pointer`. */
export function pointerMetadata(pointer: VaryPointer): Record<string, unknown> {
  const fields = { key: pointer.key, names: pointer.names, variants: pointer.variants, deleteAt: pointer.deleteAt }
  return pointer.generation === undefined ? fields : { ...fields, generation: pointer.generation }
}

// Field by field rather than with object rest/spread: this runs on every hit, and V8's rest copy of a
// fifteen-field object costs more than decoding its CBOR.

/** The entry `m` describes, with `body` its inline bytes or its external reference. */
export function entryOf(m: EntryMeta, body: Uint8Array | ExternalBody): StoredEntry {
  return {
    kind: 'entry', key: m.key, url: m.url, method: m.method, status: m.status, statusText: m.statusText, headers: m.headers,
    vary: m.vary, requestTime: m.requestTime, responseTime: m.responseTime, initialAge: m.initialAge, lifetime: m.lifetime, body,
  }
}

/** The entry `m` describes, without its body, for listings. */
export function metaOf(m: EntryMeta): RecordMeta {
  return {
    kind: 'entry', key: m.key, url: m.url, method: m.method, status: m.status, statusText: m.statusText, headers: m.headers,
    vary: m.vary, requestTime: m.requestTime, responseTime: m.responseTime, initialAge: m.initialAge, lifetime: m.lifetime, bodySize: m.bodySize,
  }
}

/** Entry metadata rebuilt from `raw`; `external` when the frame says the body is stored apart (a `bodyRef`, no `bodyCrc`). */
export function validateEntryMeta(raw: unknown, external: boolean): Result<EntryMeta> {
  const object = exactObject<string>(raw, external ? EXTERNAL_ENTRY_FIELDS : ENTRY_FIELDS)
  if (typeof object === 'string') return fail(object)
  const { key, url, method, status, statusText, headers, vary, requestTime, responseTime, initialAge, lifetime, bodySize } = object
  const bodyCrc = external ? 0 : object['bodyCrc']
  const bodyRef = external ? validateBodyRef(object['bodyRef'], bodySize) : undefined
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

/** A vary pointer rebuilt from `raw`; one without `generation` is a legacy pointer, and comes back without one. */
export function validatePointer(raw: unknown): Result<VaryPointer> {
  const legacy = !isPlainObject(raw) || !Object.hasOwn(raw, 'generation')
  const object = exactObject<string>(raw, legacy ? POINTER_FIELDS : GENERATION_POINTER_FIELDS)
  if (typeof object === 'string') return fail(object)
  const { key, names, variants, deleteAt, generation } = object
  if (!legacy && (typeof generation !== 'string' || !GENERATION.test(generation))) return fail('generation is not 16 lowercase hex digits')
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
  const pointer: VaryPointer = { kind: 'vary', key, names: nameList, variants: variantList, deleteAt }
  return { ok: true, value: typeof generation === 'string' ? { ...pointer, generation } : pointer }
}

export function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason }
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
