/**
 * The CBOR dialect of stored metadata: the cbor-x options that write plain data only, and the
 * structural gate every stored metadata map passes before cbor-x is allowed to build it.
 *
 * cbor-x blocks prototype pollution but decodes tags into Date, Set, RegExp, typed arrays and record
 * structures, and a uint64 into a BigInt (DESIGN.md "Security defaults"). Stored bytes come from a shared
 * Redis that anyone with access can write, so decodePlainCbor admits only what encodePlainCbor writes:
 * text-keyed maps, arrays, text, numbers, true/false/null; no tags, byte strings or indefinite lengths,
 * nesting at most MAX_DEPTH deep.
 */
import { Decoder, Encoder, isNativeAccelerationEnabled, type Options } from 'cbor-x'

/**
 * True when cbor-x decodes strings with its native `cbor-extract` addon, false when it uses its
 * JavaScript reader (addon missing, or CBOR_NATIVE_ACCELERATION_DISABLED=true). Both read the same bytes.
 */
export const nativeAcceleration: boolean = isNativeAccelerationEnabled

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

/** `value` as CBOR. The result is a view of the encoder's reusable buffer: copy it before the next call. */
export function encodePlainCbor(value: unknown): Uint8Array {
  return encoder.encode(value)
}

/**
 * The CBOR item in bytes[start, end), built only once scanPlainCbor has admitted it; otherwise the
 * scan's reason. May still throw on input the scan cannot foresee: callers catch at their boundary.
 */
export function decodePlainCbor(bytes: Uint8Array, start: number, end: number): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string } {
  const refused = scanPlainCbor(bytes, start, end)
  if (refused !== undefined) return { ok: false, reason: refused }
  return { ok: true, value: decoder.decode(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start)) }
}

/**
 * Walks the CBOR item in bytes[start, end) without building it and refuses anything our encoder never
 * writes. This is what neutralises cbor-x's tag extensions (tag 1 → Date, 258 → Set, RegExp, typed
 * arrays, record definitions, shared references): no tag reaches the decoder. It also refuses 64-bit
 * integers beyond 2^53 - 1 (cbor-x would make a BigInt), and bounds nesting without recursion, so a
 * 100,000-deep array costs one step per byte and never the stack. Returns the reason, or undefined.
 */
export function scanPlainCbor(bytes: Uint8Array, start: number, end: number): string | undefined {
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

/** The big-endian uint32 at `offset` (CBOR arguments, and the frame's metadata length). */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0
}
