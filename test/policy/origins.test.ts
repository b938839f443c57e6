/**
 * policy/origins.ts: which request URLs the `origins` option lets the cache serve, as a table, and the
 * values it refuses.
 */
import assert from 'node:assert/strict'
import { InvalidOptionError } from '../../lib/errors.js'
import { compileOrigins, servesOrigin } from '../../lib/policy/origins.js'

interface Row {
  readonly name: string
  readonly origins: readonly (string | RegExp)[] | undefined
  readonly url: string
  readonly served: boolean
}

const rows: readonly Row[] = [
  { name: 'unset serves every origin', origins: undefined, url: 'https://anything.example/x', served: true },
  { name: '[] serves none', origins: [], url: 'https://api.example.com/', served: false },
  { name: 'an exact string', origins: ['https://api.example.com'], url: 'https://api.example.com/users?id=1', served: true },
  { name: 'a string in another case', origins: ['HTTPS://API.Example.COM'], url: 'https://api.example.com/', served: true },
  { name: 'a request host in another case', origins: ['https://api.example.com'], url: 'https://API.EXAMPLE.com/', served: true },
  { name: 'a string with the default port', origins: ['https://api.example.com:443'], url: 'https://api.example.com/', served: true },
  { name: 'a request with the default port', origins: ['https://api.example.com'], url: 'https://api.example.com:443/', served: true },
  { name: 'a string with a trailing slash', origins: ['https://api.example.com/'], url: 'https://api.example.com/a', served: true },
  { name: 'another scheme', origins: ['https://api.example.com'], url: 'http://api.example.com/', served: false },
  { name: 'another port', origins: ['http://localhost:3000'], url: 'http://localhost:3001/', served: false },
  { name: 'a subdomain', origins: ['https://example.com'], url: 'https://api.example.com/', served: false },
  { name: 'a RegExp on the serialised origin', origins: [/^https:\/\/[a-z]+\.example\.com$/], url: 'https://api.example.com/x', served: true },
  { name: 'a RegExp sees no default port', origins: [/:443$/], url: 'https://api.example.com:443/', served: false },
  { name: 'a RegExp sees a lowercase host', origins: [/^https:\/\/api\.example\.com$/], url: 'https://API.example.com/', served: true },
  { name: 'a RegExp sees no path', origins: [/\/users/], url: 'https://api.example.com/users', served: false },
  { name: 'strings and RegExps together', origins: ['https://a.example', /b\.example$/], url: 'https://b.example/', served: true },
]

describe('policy/origins: servesOrigin', () => {
  for (const row of rows) {
    it(`${row.name} → ${row.served ? 'served' : 'not served'}`, () => {
      assert.equal(servesOrigin(compileOrigins(row.origins, 'origins'), new URL(row.url)), row.served)
    })
  }

  it('a RegExp with the g or y flag matches the same origin every time (no lastIndex state)', () => {
    for (const pattern of [/example/g, /^https/y]) {
      const rule = compileOrigins([pattern], 'origins')
      const url = new URL('https://api.example.com/')
      assert.deepEqual([1, 2, 3].map(() => servesOrigin(rule, url)), [true, true, true], pattern.flags)
    }
  })
})

describe('policy/origins: compileOrigins refuses', () => {
  const bad: ReadonlyArray<readonly [string, unknown]> = [
    ['a string, not a list', 'https://api.example.com'],
    ['a number', [1]],
    ['null', [null]],
    ['a host without a scheme', ['api.example.com']],
    ['a path', ['https://api.example.com/v1']],
    ['a query', ['https://api.example.com?x=1']],
    ['an empty query', ['https://api.example.com/?']],
    ['a fragment', ['https://api.example.com#top']],
    ['credentials', ['https://user:pw@api.example.com']],
    ['a scheme other than http(s)', ['ftp://files.example.com']],
    ['an empty string', ['']],
  ]
  for (const [name, value] of bad) {
    it(name, () => assert.throws(() => compileOrigins(value, 'origins'), (error: unknown) => error instanceof InvalidOptionError && error.option === 'origins'))
  }
})
