/**
 * Issue 11: a response header named `__proto__` or `constructor` made every request to that URL throw.
 * Header names come from the network, so every record keyed by them has no prototype, and every name
 * of Object.prototype is an ordinary field name: as a response header, a request header and a Vary
 * field, on both stores.
 *
 * The entry codec refuses the field names `__proto__` and `constructor` (entry-schema.ts FORBIDDEN_NAMES:
 * cbor-x renames a `__proto__` map key when it decodes, and released readers sharing the store refuse
 * both). A response carrying one is served, reported to onError as InvalidEntryError and not stored.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { InvalidEntryError } from '../../lib/index.js'
import { cacheRunner } from '../helpers/client.js'
import { errorLog, storedIds } from '../helpers/faults.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'
import { request, type Dispatcher } from '../helpers/undici.js'

const NAMES = Object.getOwnPropertyNames(Object.prototype)
/** Lowercased field names the entry codec refuses to store. */
const UNSTORABLE = new Set(['__proto__', 'constructor'])

/**
 * `/res/<name>`: a response carrying the field `<name>`; `/vary/<name>`: a response that varies on the
 * request field `<name>` and says which value it saw; anything else: a plain cacheable response.
 * Headers are written as a flat list so no object literal ever holds the name as a key.
 */
function handler(req: IncomingMessage, res: ServerResponse, index: number): void {
  const [, kind = '', encoded = ''] = (req.url ?? '/').split('/')
  const name = decodeURIComponent(encoded)
  const headers = ['cache-control', 'max-age=60']
  let body = `#${index} ${kind}`
  if (kind === 'res') headers.push(name, `value of ${name}`)
  if (kind === 'vary') {
    headers.push('vary', name)
    // rawHeaders: node:http leaves a `__proto__` field out of req.headers.
    const at = req.rawHeaders.findIndex((field, i) => i % 2 === 0 && field.toLowerCase() === name.toLowerCase())
    body += ` saw ${at === -1 ? 'nothing' : req.rawHeaders[at + 1]}`
  }
  res.writeHead(200, [...headers, 'content-length', String(Buffer.byteLength(body))])
  res.end(body)
}

interface Seen {
  readonly status: number
  readonly text: string
  readonly cacheStatus: string
  /** The response's `field` header as the caller got it (an own property, whatever its name). */
  readonly field: unknown
}

async function get(dispatcher: Dispatcher, url: string, field: string, headers: string[] = []): Promise<Seen> {
  const res = await request(url, { dispatcher, headers })
  const text = await res.body.text()
  const own = (name: string): unknown => Object.getOwnPropertyDescriptor(res.headers, name)?.value
  return { status: res.statusCode, text, cacheStatus: String(own('cache-status')), field: own(field.toLowerCase()) }
}

for (const kind of storeKinds) {
  describe(`header names from Object.prototype (${kind.name} store)`, () => {
    const origin = suiteOrigin(kind, handler)
    const withCache = cacheRunner(kind)

    for (const name of NAMES) {
      const lower = name.toLowerCase()
      const path = encodeURIComponent(name)

      if (UNSTORABLE.has(lower)) {
        it(`a response header named ${name} is served with its value, reported and not stored`, () => {
          const { errors, onError } = errorLog()
          return withCache({ onError }, async (dispatcher, store) => {
            const url = `${origin.url}/res/${path}`
            const first = await get(dispatcher, url, name)
            const second = await get(dispatcher, url, name)
            for (const seen of [first, second]) {
              assert.equal(seen.status, 200)
              assert.equal(seen.field, `value of ${name}`)
              assert.match(seen.cacheStatus, /fwd=miss/)
            }
            assert.equal(origin.count(`/res/${path}`), 2)
            assert.deepEqual(await storedIds(store), [])
            assert.ok(errors.some((error) => error instanceof InvalidEntryError), `onError got ${errors.map((e) => e.code).join(', ')}`)
          })
        })
      } else {
        it(`a response header named ${name} is stored and replayed with its value`, () =>
          withCache({}, async (dispatcher) => {
            const url = `${origin.url}/res/${path}`
            const first = await get(dispatcher, url, name)
            const second = await get(dispatcher, url, name)
            assert.match(first.cacheStatus, /fwd=miss; fwd-status=200; stored/)
            assert.match(second.cacheStatus, /; hit; /)
            assert.equal(second.text, first.text)
            assert.equal(first.field, `value of ${name}`)
            assert.equal(second.field, `value of ${name}`)
            assert.equal(origin.count(`/res/${path}`), 1)
          }))
      }

      it(`a request header named ${name} is cached like any other request`, () =>
        withCache({}, async (dispatcher) => {
          const url = `${origin.url}/req/${path}`
          const first = await get(dispatcher, url, 'etag', [name, 'one'])
          const second = await get(dispatcher, url, 'etag', [name, 'two'])
          assert.match(first.cacheStatus, /fwd=miss; fwd-status=200; stored/)
          assert.match(second.cacheStatus, /; hit; /)
          assert.equal(second.text, first.text)
          assert.equal(origin.count(`/req/${path}`), 1)
        }))

      it(`Vary: ${name} keeps one variant per value of that request header`, () =>
        withCache({}, async (dispatcher) => {
          const url = `${origin.url}/vary/${path}`
          const a = await get(dispatcher, url, 'vary', [name, 'a'])
          const b = await get(dispatcher, url, 'vary', [name, 'b'])
          const none = await get(dispatcher, url, 'vary')
          const a2 = await get(dispatcher, url, 'vary', [name, 'a'])
          const none2 = await get(dispatcher, url, 'vary')
          for (const [seen, value] of [[a, 'a'], [b, 'b'], [none, 'nothing'], [a2, 'a'], [none2, 'nothing']] as const) {
            assert.match(seen.text, new RegExp(` saw ${value}$`))
          }
          if (UNSTORABLE.has(lower)) {
            assert.match(a2.cacheStatus, /fwd=(vary-)?miss/)
            assert.equal(origin.count(`/vary/${path}`), 5)
          } else {
            assert.equal(a2.text, a.text)
            assert.equal(none2.text, none.text)
            assert.match(a2.cacheStatus, /; hit; /)
            assert.match(none2.cacheStatus, /; hit; /)
            assert.equal(origin.count(`/vary/${path}`), 3)
          }
        }))
    }
  })
}
