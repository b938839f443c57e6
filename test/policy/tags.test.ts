/**
 * Cache tags (issue #14): what a response is filed under, read from the field the `tagsHeader` option
 * names and merged with the request's own `tags`, and the bounds that keep each stored response to a
 * bounded number of index writes.
 */
import assert from 'node:assert/strict'
import type { HeaderRecord } from '../../lib/headers.js'
import { isTag, MAX_TAG_LENGTH, MAX_TAGS, responseTags, type Tags } from '../../lib/policy/tags.js'

const FIELD = 'cache-tag'

function tagsOf(value: string | readonly string[] | undefined, requestTags: readonly string[] = []): Tags {
  const headers: HeaderRecord = value === undefined ? {} : { [FIELD]: value }
  return responseTags(headers, FIELD, requestTags)
}

function ok(result: Tags): readonly string[] {
  assert.ok(result.ok, `expected tags, got ${result.ok ? '' : result.reason}`)
  return result.tags
}

function refused(result: Tags): string {
  assert.equal(result.ok, false, `expected a refusal, got ${JSON.stringify(result)}`)
  return result.ok ? '' : result.reason
}

/** `n` distinct tags, `t0 t1 …`. */
function distinct(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `t${i}`)
}

describe('responseTags', () => {
  const splits: [name: string, value: string | readonly string[], expected: readonly string[]][] = [
    ['space-separated (Surrogate-Key style)', 'user:42 team:7', ['user:42', 'team:7']],
    ['comma-separated (Cache-Tag style)', 'user:42,team:7', ['user:42', 'team:7']],
    ['comma and space together, with surrounding whitespace', '  user:42, team:7 ,page  ', ['user:42', 'team:7', 'page']],
    ['tabs and runs of separators', 'a\t\tb,,,c , ,d', ['a', 'b', 'c', 'd']],
    ['repeated field lines, as one list (RFC 9110 §5.3)', ['user:42 team:7', 'page'], ['user:42', 'team:7', 'page']],
    ['one tag', 'only', ['only']],
    ['case kept: tags are compared byte for byte', 'User:42 user:42', ['User:42', 'user:42']],
    ['non-ASCII characters are tag characters', 'café:1 ü', ['café:1', 'ü']],
  ]
  for (const [name, value, expected] of splits) {
    it(`splits ${name}`, () => assert.deepEqual(ok(tagsOf(value)), expected))
  }

  it('de-duplicates, keeping first-seen order, also across field lines', () => {
    assert.deepEqual(ok(tagsOf('a b a, c b')), ['a', 'b', 'c'])
    assert.deepEqual(ok(tagsOf(['a b', 'b a', 'c'])), ['a', 'b', 'c'])
  })

  it("adds the request's own tags after the field's, without duplicates", () => {
    assert.deepEqual(ok(tagsOf('user:42 team:7', ['team:7', 'req:1'])), ['user:42', 'team:7', 'req:1'])
  })

  it("gives the request's tags alone when the field is absent, empty or blank, or no tagsHeader is set", () => {
    const own = ['req:1', 'req:2']
    assert.deepEqual(ok(tagsOf(undefined, own)), own)
    assert.deepEqual(ok(tagsOf('', own)), own)
    assert.deepEqual(ok(tagsOf('  \t ', own)), own)
    assert.deepEqual(ok(responseTags({ [FIELD]: 'user:42' }, undefined, own)), own, 'without tagsHeader the field is not read')
    assert.deepEqual(ok(tagsOf(undefined)), [])
  })

  it('gives no tags for a field of separators only', () => {
    assert.deepEqual(ok(tagsOf(', , ,')), [])
  })

  it('reads only the named field, by its lowercased name, as records hold it', () => {
    assert.deepEqual(ok(responseTags({ 'surrogate-key': 'a b', [FIELD]: 'c' }, 'surrogate-key', [])), ['a', 'b'])
    assert.deepEqual(ok(responseTags({ 'cache-tag': 'c' }, 'surrogate-key', [])), [])
  })

  it('never reads an inherited property as a field', () => {
    assert.deepEqual(ok(responseTags({}, 'constructor', [])), [])
    assert.deepEqual(ok(responseTags({}, '__proto__', [])), [])
  })

  it(`accepts ${MAX_TAGS} tags, and ${MAX_TAGS} from the field plus ${MAX_TAGS} of the request's own`, () => {
    assert.equal(ok(tagsOf(distinct(MAX_TAGS).join(' '))).length, MAX_TAGS)
    const request = distinct(MAX_TAGS).map((tag) => `r-${tag}`)
    assert.equal(ok(tagsOf(distinct(MAX_TAGS).join(','), request)).length, 2 * MAX_TAGS)
  })

  it(`refuses ${MAX_TAGS + 1} tags, naming the field`, () => {
    assert.match(refused(tagsOf(distinct(MAX_TAGS + 1).join(' '))), new RegExp(`^${FIELD} holds more than ${MAX_TAGS} tags`))
    assert.match(refused(tagsOf([distinct(20).join(' '), distinct(33).slice(20).join(' ')])), /more than 32 tags/, 'counted over every field line')
  })

  it(`counts distinct tags: ${MAX_TAGS + 10} mentions of ${MAX_TAGS} tags are accepted`, () => {
    const mentions = [...distinct(MAX_TAGS), ...distinct(10)].join(' ')
    assert.equal(ok(tagsOf(mentions)).length, MAX_TAGS)
  })

  it(`accepts a tag of ${MAX_TAG_LENGTH} characters and refuses one of ${MAX_TAG_LENGTH + 1}`, () => {
    assert.deepEqual(ok(tagsOf(`a ${'x'.repeat(MAX_TAG_LENGTH)}`)), ['a', 'x'.repeat(MAX_TAG_LENGTH)])
    assert.match(refused(tagsOf(`a ${'x'.repeat(MAX_TAG_LENGTH + 1)} b`)), new RegExp(`longer than ${MAX_TAG_LENGTH} characters`))
    assert.match(refused(tagsOf('y'.repeat(200))), /longer than 128/)
  })

  for (const [name, char] of [['NUL', '\x00'], ['SOH', '\x01'], ['ESC', '\x1b'], ['DEL', '\x7f']] as const) {
    it(`refuses a tag holding a control character (${name})`, () => {
      assert.match(refused(tagsOf(`good bad${char}tag`)), /control character/)
    })
  }

  it('splits at whitespace control characters (tab, LF, CR, VT, FF) rather than refusing them', () => {
    assert.deepEqual(ok(tagsOf('a\tb\nc\rd\ve\ff')), ['a', 'b', 'c', 'd', 'e', 'f'])
  })

  it('refuses a field too long to hold valid tags before splitting it', () => {
    // Separators only around two tags: split, it would give two valid tags. Its length alone refuses it.
    const padded = `a${' '.repeat(MAX_TAGS * (MAX_TAG_LENGTH + 2))}b`
    assert.match(refused(tagsOf(padded)), new RegExp(`^${FIELD} is longer than ${MAX_TAGS * (MAX_TAG_LENGTH + 2)} characters`))
    // A huge field is refused without being split: String.prototype.split never runs on it.
    const split = String.prototype.split
    let splits = 0
    String.prototype.split = function (this: string, ...args: Parameters<typeof split>) {
      splits++
      return split.apply(this, args)
    } as typeof split
    let reason: string
    try {
      reason = refused(tagsOf('t '.repeat(1_000_000)))
    } finally {
      String.prototype.split = split
    }
    assert.match(reason, /is longer than/)
    assert.equal(splits, 0)
  })

  it('accepts the longest field of valid tags: 32 tags of 128 characters with two-character separators', () => {
    const longest = distinct(MAX_TAGS).map((tag) => tag.padEnd(MAX_TAG_LENGTH, 'x')).join(', ')
    assert.equal(ok(tagsOf(longest)).length, MAX_TAGS)
  })
})

describe('isTag', () => {
  const valid = ['user:42', 'a', 'x'.repeat(MAX_TAG_LENGTH), 'ns/type=page;id=7', 'café', '"quoted"']
  for (const tag of valid) {
    it(`accepts ${JSON.stringify(tag.length > 20 ? `${tag.slice(0, 10)}…(${tag.length})` : tag)}`, () => assert.equal(isTag(tag), true))
  }
  const invalid: [name: string, value: unknown][] = [
    ['the empty string', ''],
    [`${MAX_TAG_LENGTH + 1} characters`, 'x'.repeat(MAX_TAG_LENGTH + 1)],
    ['a space', 'user 42'],
    ['a comma', 'user,42'],
    ['a tab', 'user\t42'],
    ['a newline', 'user\n42'],
    ['a non-breaking space (JavaScript \\s)', 'user\u00a042'],
    ['NUL', 'user\x0042'],
    ['a control character', 'user\x0142'],
    ['DEL', 'user\x7f42'],
    ['a number', 42],
    ['undefined', undefined],
    ['null', null],
    ['an array', ['user:42']],
    ['a String object', new String('user:42')],
  ]
  for (const [name, value] of invalid) {
    it(`refuses ${name}`, () => assert.equal(isTag(value), false))
  }
})
