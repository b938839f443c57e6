import assert from 'node:assert/strict'
import { CacheError, KeyFunctionError } from '../lib/errors.js'
import type { HeaderRecord } from '../lib/headers.js'
import type { CacheRequest } from '../lib/http.js'
import { createKeyer, NEVER_KEYED_HEADERS, hashKey, requestKey, variantId, type KeyOptions } from '../lib/key.js'
import { normalizeUrl, redactUrl } from '../lib/url-normalize.js'

const none: ReadonlySet<string> = new Set()
const defaults: KeyOptions = { ignoredParams: none, ignoredHeaders: none, matchHeaders: false, keyFn: undefined, partition: undefined }

function req(url: string, headers: HeaderRecord = {}, method = 'GET'): CacheRequest {
  return { method, url: new URL(url), headers }
}

function keyOf(request: CacheRequest, opts: Partial<KeyOptions> = {}, body?: Uint8Array): string {
  return requestKey(request, { ...defaults, ...opts }, body).id
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('key', () => {
  describe('normalizeUrl', () => {
    const rows: Array<[string, string, string]> = [
      ['scheme and host case', 'HTTP://Example.COM/a', 'http://example.com/a'],
      ['default http port', 'http://example.com:80/a', 'http://example.com/a'],
      ['default https port', 'https://example.com:443/a', 'https://example.com/a'],
      ['other port kept', 'http://example.com:8080/a', 'http://example.com:8080/a'],
      ['fragment dropped', 'http://example.com/a#top', 'http://example.com/a'],
      ['userinfo dropped', 'http://user:secret@example.com/a', 'http://example.com/a'],
      ['query sorted by name', 'http://example.com/?b=2&a=1', 'http://example.com/?a=1&b=2'],
      ['repeated names keep their order', 'http://example.com/?b=1&a=2&a=1', 'http://example.com/?a=2&a=1&b=1'],
      ['names sorted by code unit: uppercase before lowercase', 'http://example.com/?b=1&B=2&a=3', 'http://example.com/?B=2&a=3&b=1'],
      ['empty query: no ?', 'http://example.com/a?', 'http://example.com/a'],
      ['empty pairs dropped', 'http://example.com/a?&&x=1&', 'http://example.com/a?x=1'],
      ['name without = gets an empty value', 'http://example.com/?flag', 'http://example.com/?flag='],
      ['query ~ stays, %7E decoded', 'http://example.com/?a=%7E&b=~', 'http://example.com/?a=~&b=~'],
      ['query + and %20 are both a space', 'http://example.com/?q=a+b&r=a%20b', 'http://example.com/?q=a%20b&r=a%20b'],
      ['query %2B stays a plus sign', 'http://example.com/?q=a%2Bb', 'http://example.com/?q=a%2Bb'],
      ['query escapes uppercased', 'http://example.com/?q=%2f%c3%a9', 'http://example.com/?q=%2F%C3%A9'],
      ['query non-ASCII escaped as UTF-8', 'http://example.com/?q=é', 'http://example.com/?q=%C3%A9'],
      ['query escaped & stays data', 'http://example.com/?a=1%26b%3D2', 'http://example.com/?a=1%26b%3D2'],
      ['query invalid escape kept literally', 'http://example.com/?a=%zz', 'http://example.com/?a=%25zz'],
      ['path unreserved escapes decoded', 'http://example.com/%7Euser/%41%2d%5f%2E', 'http://example.com/~user/A-_.'],
      ['path %2F never decoded', 'http://example.com/a%2fb', 'http://example.com/a%2Fb'],
      ['path reserved escapes kept, hex uppercased', 'http://example.com/a%3ab%40', 'http://example.com/a%3Ab%40'],
      ['path dot segments resolved', 'http://example.com/a/./b/../c', 'http://example.com/a/c'],
      ['IPv6 host', 'http://[::1]:3000/', 'http://[::1]:3000/'],
    ]
    for (const [name, input, expected] of rows) {
      it(name, () => assert.equal(normalizeUrl(new URL(input), none), expected))
    }

    it('ignored parameters are removed (exact name match)', () => {
      const ignored = new Set(['api_key', 'token'])
      assert.equal(normalizeUrl(new URL('http://x.test/?token=1&a=1&api_key=s&API_KEY=k'), ignored), 'http://x.test/?API_KEY=k&a=1')
    })

    it('an ignored parameter is matched after decoding its name', () => {
      assert.equal(normalizeUrl(new URL('http://x.test/?api%5Fkey=s&a=1'), new Set(['api_key'])), 'http://x.test/?a=1')
    })
  })

  describe('equal keys', () => {
    const rows: Array<[string, CacheRequest, CacheRequest]> = [
      ['scheme and host case', req('HTTP://EXAMPLE.com/a'), req('http://example.com/a')],
      ['default port', req('https://example.com:443/'), req('https://example.com/')],
      ['query order', req('http://x.test/?b=2&a=1'), req('http://x.test/?a=1&b=2')],
      ['percent-encoded unreserved in query', req('http://x.test/?a=%7E'), req('http://x.test/?a=~')],
      ['percent-encoded unreserved in path', req('http://x.test/%7Ea'), req('http://x.test/~a')],
      ['escape hex case', req('http://x.test/a%2fb?q=%2f'), req('http://x.test/a%2Fb?q=%2F')],
      ['+ and %20 in the query', req('http://x.test/?q=a+b'), req('http://x.test/?q=a%20b')],
      ['a name without = and the same name with an empty value', req('http://x.test/?flag'), req('http://x.test/?flag=')],
      ['empty pairs and a trailing &', req('http://x.test/?a=1&&b=2&'), req('http://x.test/?a=1&b=2')],
      ['a repeated name keeps its order wherever other names sit', req('http://x.test/?a=1&b=0&a=2'), req('http://x.test/?b=0&a=1&a=2')],
      ['an escaped unreserved character in a name', req('http://x.test/?%61=1'), req('http://x.test/?a=1')],
      ['fragment', req('http://x.test/a#one'), req('http://x.test/a#two')],
      ['HEAD and GET', req('http://x.test/a', {}, 'HEAD'), req('http://x.test/a', {}, 'GET')],
      ['lowercase method', req('http://x.test/a', {}, 'get'), req('http://x.test/a', {}, 'GET')],
      ['headers are not keyed by default', req('http://x.test/', { accept: 'a' }), req('http://x.test/', { accept: 'b' })],
    ]
    for (const [name, a, b] of rows) {
      it(name, () => assert.equal(keyOf(a), keyOf(b)))
    }
  })

  describe('different keys', () => {
    const rows: Array<[string, CacheRequest, CacheRequest]> = [
      ['repeated names in another order', req('http://x.test/?a=1&a=2'), req('http://x.test/?a=2&a=1')],
      ['escaped & and = versus two pairs', req('http://x.test/?a=1%26b%3D2'), req('http://x.test/?a=1&b=2')],
      ['%2B versus +', req('http://x.test/?q=a%2Bb'), req('http://x.test/?q=a+b')],
      ['%2F versus / in the path', req('http://x.test/a%2Fb'), req('http://x.test/a/b')],
      ['invalid UTF-8 bytes stay distinct', req('http://x.test/?a=%FF'), req('http://x.test/?a=%FE')],
      ['path case', req('http://x.test/A'), req('http://x.test/a')],
      ['scheme', req('http://x.test/'), req('https://x.test/')],
      ['port', req('http://x.test:8080/'), req('http://x.test/')],
      ['trailing slash', req('http://x.test/a/'), req('http://x.test/a')],
      ['POST and GET', req('http://x.test/', {}, 'POST'), req('http://x.test/', {}, 'GET')],
      ['userinfo', req('http://alice:pw@x.test/'), req('http://bob:pw@x.test/')],
      ['userinfo versus none', req('http://alice@x.test/'), req('http://x.test/')],
    ]
    for (const [name, a, b] of rows) {
      it(name, () => assert.notEqual(keyOf(a), keyOf(b)))
    }
  })

  describe('matchHeaders', () => {
    const url = 'http://x.test/'
    it('true keys every header but the never-keyed ones', () => {
      const opts = { matchHeaders: true }
      assert.notEqual(keyOf(req(url, { accept: 'a' }), opts), keyOf(req(url, { accept: 'b' }), opts))
      assert.notEqual(keyOf(req(url, { 'x-b': '1' }), opts), keyOf(req(url, {}), opts))
      for (const name of ['connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade', 'content-length', 'cache-control', 'pragma', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range']) {
        assert.ok(NEVER_KEYED_HEADERS.has(name), name)
        assert.equal(keyOf(req(url, { [name]: 'v' }), opts), keyOf(req(url, {}), opts), name)
      }
    })

    it('true leaves out ignored headers, compared lowercased', () => {
      const opts = { matchHeaders: true, ignoredHeaders: new Set(['x-api-key']) }
      assert.equal(keyOf(req(url, { 'x-api-key': 'one' }), opts), keyOf(req(url, { 'x-api-key': 'two' }), opts))
      assert.equal(keyOf(req(url, { 'X-Api-Key': 'one' }), opts), keyOf(req(url, {}), opts))
    })

    it('a set keys only the listed headers, absent differs from empty', () => {
      const opts = { matchHeaders: new Set(['accept-language']) }
      assert.notEqual(keyOf(req(url, { 'accept-language': 'fr' }), opts), keyOf(req(url, { 'accept-language': 'de' }), opts))
      assert.equal(keyOf(req(url, { accept: 'a' }), opts), keyOf(req(url, { accept: 'b' }), opts))
      assert.notEqual(keyOf(req(url, { 'accept-language': '' }), opts), keyOf(req(url, {}), opts))
    })

    it('an ignored header listed in the set is still left out', () => {
      const opts = { matchHeaders: new Set(['x-token']), ignoredHeaders: new Set(['x-token']) }
      assert.equal(keyOf(req(url, { 'x-token': 'a' }), opts), keyOf(req(url, { 'x-token': 'b' }), opts))
    })

    it('false keys no header', () => {
      assert.equal(keyOf(req(url, { accept: 'a' }), { matchHeaders: false }), keyOf(req(url, {}), { matchHeaders: false }))
    })

    it('multi-line values are joined with ", " and keyed in order', () => {
      const opts = { matchHeaders: true }
      assert.equal(keyOf(req(url, { accept: ['a', 'b'] }), opts), keyOf(req(url, { accept: 'a, b' }), opts))
      assert.notEqual(keyOf(req(url, { accept: ['a', 'b'] }), opts), keyOf(req(url, { accept: ['b', 'a'] }), opts))
    })

    it('a value holding the old separators cannot collide with two fields', () => {
      const opts = { matchHeaders: true }
      const a = req(url, { 'x-a': '1", "x-b": "2' })
      const b = req(url, { 'x-a': '1', 'x-b': '2' })
      const c = req(url, { 'x-a': '1\n x-b: 2' })
      const ids = new Set([keyOf(a, opts), keyOf(b, opts), keyOf(c, opts)])
      assert.equal(ids.size, 3)
    })

    it('credentials are keyed as a digest, never verbatim', () => {
      const opts = { matchHeaders: true }
      const { canonical } = requestKey(req('http://u:hunter2@x.test/', { authorization: 'Bearer s3cr3t', cookie: 'sid=abc' }), { ...defaults, ...opts })
      assert.doesNotMatch(canonical, /s3cr3t|sid=abc|hunter2/)
      assert.notEqual(keyOf(req(url, { authorization: 'Bearer a' }), opts), keyOf(req(url, { authorization: 'Bearer b' }), opts))
    })
  })

  describe('ignored parameters', () => {
    const opts = { ignoredParams: new Set(['api_key']) }
    it('do not change the key', () => {
      assert.equal(keyOf(req('http://x.test/?a=1&api_key=one'), opts), keyOf(req('http://x.test/?a=1&api_key=two'), opts))
    })
    it('are absent from the canonical key and from redactUrl', () => {
      const request = req('http://x.test/?a=1&api_key=SECRET')
      assert.doesNotMatch(requestKey(request, { ...defaults, ...opts }).canonical, /SECRET|api_key/)
      assert.equal(redactUrl(request.url, opts.ignoredParams), 'http://x.test/?a=1')
    })
    it('redactUrl drops userinfo', () => {
      assert.equal(redactUrl(new URL('http://me:pw@x.test/p?api_key=1'), opts.ignoredParams), 'http://x.test/p')
    })
  })

  describe('bodies', () => {
    const json = (s: string): CacheRequest => req('http://x.test/search', { 'content-type': 'application/json; charset=utf-8' }, 'POST')
    const post = (type: string): CacheRequest => req('http://x.test/search', { 'content-type': type }, 'POST')
    const k = (request: CacheRequest, body: string | Uint8Array, opts: Partial<KeyOptions> = {}): string =>
      keyOf(request, opts, typeof body === 'string' ? utf8(body) : body)

    it('JSON object key order does not matter, at any depth', () => {
      assert.equal(k(json(''), '{"a":1,"b":{"y":2,"x":[1,{"q":1,"p":2}]}}'), k(json(''), '{ "b": {"x": [1, {"p":2,"q":1}], "y": 2}, "a": 1 }'))
    })
    it('+json media types are JSON', () => {
      assert.equal(k(post('application/vnd.api+json'), '{"a":1,"b":2}'), k(post('application/vnd.api+json'), '{"b":2,"a":1}'))
    })
    it('JSON array order matters', () => {
      assert.notEqual(k(json(''), '[1,2]'), k(json(''), '[2,1]'))
    })
    it('an ignored top-level JSON key is dropped', () => {
      const opts = { ignoredParams: new Set(['token']) }
      assert.equal(k(json(''), '{"q":"x","token":"a"}', opts), k(json(''), '{"q":"x"}', opts))
    })
    it('unparseable JSON falls back to raw bytes', () => {
      assert.notEqual(k(json(''), '{"a":1,'), k(json(''), '{"a":1, '))
      assert.equal(k(json(''), '{"a":1,'), k(json(''), '{"a":1,'))
    })
    it('numbers a double cannot tell apart fall back to raw bytes', () => {
      assert.notEqual(k(json(''), '{"n":12345678901234567890}'), k(json(''), '{"n":12345678901234567891}'))
      assert.notEqual(k(json(''), '{"n":1e400}'), k(json(''), '{"n":2e400}'))
      assert.notEqual(k(json(''), '{"n":1e-400}'), k(json(''), '{"n":0}'))
      assert.equal(k(json(''), '{"n":1.50}'), k(json(''), '{"n":1.5}'))
    })
    it('form bodies are normalized like a query', () => {
      const form = post('application/x-www-form-urlencoded')
      assert.equal(k(form, 'b=2&a=1+2'), k(form, 'a=1%202&b=2'))
      assert.notEqual(k(form, 'a=1&a=2'), k(form, 'a=2&a=1'))
      assert.equal(k(form, 'a=1&secret=x', { ignoredParams: new Set(['secret']) }), k(form, 'a=1', { ignoredParams: new Set(['secret']) }))
    })
    it('other bodies key on their raw bytes', () => {
      assert.notEqual(k(post('text/plain'), 'b=2&a=1'), k(post('text/plain'), 'a=1&b=2'))
      assert.notEqual(k(post('application/octet-stream'), new Uint8Array([1])), k(post('application/octet-stream'), new Uint8Array([2])))
    })
    it('the same text under another content type is another key', () => {
      assert.notEqual(k(post('application/json'), '{"a":1}'), k(post('text/plain'), '{"a":1}'))
    })
    it('an empty body differs from no body', () => {
      assert.notEqual(keyOf(post('text/plain'), {}, new Uint8Array(0)), keyOf(post('text/plain')))
    })
  })

  describe('key function', () => {
    it('its string replaces the canonical parts, still hashed', () => {
      const opts = { keyFn: (r: CacheRequest) => r.url.pathname }
      const a = requestKey(req('http://x.test/p?a=1'), { ...defaults, ...opts })
      assert.equal(a.canonical, '["v1","key-fn","/p"]')
      assert.equal(a.id, hashKey(a.canonical))
      assert.equal(a.id, requestKey(req('https://y.test/p?b=2'), { ...defaults, ...opts }).id)
    })
    it('one that throws becomes a KeyFunctionError with the cause', () => {
      const cause = new Error('bug')
      assert.throws(
        () => requestKey(req('http://x.test/'), { ...defaults, keyFn: () => { throw cause } }),
        (error: unknown) => error instanceof KeyFunctionError && error instanceof CacheError && error.cause === cause && error.code === 'URC_ERR_KEY_FUNCTION',
      )
    })
    it('one that returns a non-string becomes a KeyFunctionError', () => {
      const keyFn = (() => 42) as unknown as (r: CacheRequest) => string
      assert.throws(() => requestKey(req('http://x.test/'), { ...defaults, keyFn }), KeyFunctionError)
    })
  })

  describe('hash stability (changing these re-keys every shared store)', () => {
    it('pinned ids', () => {
      const plain = requestKey(req('https://example.com/items?b=2&a=1'), defaults)
      assert.equal(plain.canonical, '["v1","GET","https://example.com/items?a=1&b=2",null,[],null]')
      assert.equal(plain.id, '339787f60c70aae95404aa93a57ada2e')
      const rich = requestKey(
        req('https://api.example.com/search?q=caf%C3%A9', { accept: 'application/json', 'content-type': 'application/json' }, 'POST'),
        { ...defaults, matchHeaders: new Set(['accept']) },
        utf8('{"b":1,"a":[true,null]}'),
      )
      assert.equal(
        rich.canonical,
        '["v1","POST","https://api.example.com/search?q=caf%C3%A9",null,[["accept","application/json"]],' +
          '["json","51705a2c9eb3e7e410a58f696a770c3ac3885a0cf43eb7fc88f5e47c11d4d30d"]]',
      )
      assert.equal(rich.id, 'e11271be52dee94741758bb1f8789a21')
    })
    it('ids are 32 lowercase hex digits', () => {
      assert.match(hashKey('anything'), /^[0-9a-f]{32}$/)
    })
    it('pinned variant id', () => {
      assert.equal(variantId('0123456789abcdef0123456789abcdef', { 'accept-encoding': 'gzip', 'accept-language': null }), '0123456789abcdef0123456789abcdef.332f64066cd13fb8')
    })
  })

  describe('variantId', () => {
    const primary = hashKey('p')
    it('is the primary id, a dot and 16 hex digits', () => {
      assert.match(variantId(primary, { accept: 'x' }), new RegExp(`^${primary}\\.[0-9a-f]{16}$`))
    })
    it('null (absent) and the empty string differ', () => {
      assert.notEqual(variantId(primary, { accept: null }), variantId(primary, { accept: '' }))
    })
    it('does not depend on the order names were given in', () => {
      assert.equal(variantId(primary, { a: '1', b: '2' }), variantId(primary, { b: '2', a: '1' }))
    })
    it('values holding separators do not collide', () => {
      assert.notEqual(variantId(primary, { a: '1","b":"2' }), variantId(primary, { a: '1', b: '2' }))
    })
    it('no vary values differ from one', () => {
      assert.notEqual(variantId(primary, {}), variantId(primary, { a: null }))
    })
  })
})

describe('createKeyer', () => {
  it('memoises the plain case and returns exactly what requestKey returns', () => {
    const keyer = createKeyer(defaults)
    for (const url of ['http://x.test/a?b=2&a=1', 'http://x.test/a?a=1&b=2', 'http://u:p@x.test/a', 'HTTP://X.TEST:80/a']) {
      for (const method of ['GET', 'HEAD', 'get']) {
        const request = req(url, {}, method)
        assert.deepEqual(keyer(request), requestKey(request, defaults))
        assert.equal(keyer(request), keyer(request), 'the second call is served from the memo')
      }
    }
  })

  it('does not memoise what depends on more than method and URL (body, headers, key function)', () => {
    const body = new TextEncoder().encode('{"q":1}')
    const keyer = createKeyer(defaults)
    assert.deepEqual(keyer(req('http://x.test/s', {}, 'POST'), body), requestKey(req('http://x.test/s', {}, 'POST'), defaults, body))
    const byHeader = createKeyer({ ...defaults, matchHeaders: new Set(['x-tenant']) })
    assert.notEqual(byHeader(req('http://x.test/', { 'x-tenant': 'a' })).id, byHeader(req('http://x.test/', { 'x-tenant': 'b' })).id)
    let calls = 0
    const byFn = createKeyer({ ...defaults, keyFn: () => String(++calls) })
    assert.notEqual(byFn(req('http://x.test/')).id, byFn(req('http://x.test/')).id)
  })
})
