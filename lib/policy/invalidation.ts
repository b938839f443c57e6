/**
 * Invalidation by unsafe requests (RFC 9111 §4.4): a successful state-changing request makes the stored
 * responses for its target, and for the URIs its response points at, out of date.
 */
import { fieldLines } from '../headers.js'
import type { CacheRequest, CacheResponse } from '../http.js'

/** RFC 9110 §9.2.1. Methods are case-sensitive (§9.1); anything else, known or not, counts as unsafe (§4.4). */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** The URIs whose stored responses to delete after `req` got `res`; [] when nothing is invalidated. */
export function invalidationTargets(req: CacheRequest, res: CacheResponse): URL[] {
  // §4.4: only unsafe methods (including those whose safety is unknown) invalidate.
  if (SAFE_METHODS.has(req.method)) return []
  // §4.4: only on a non-error status, 2xx or 3xx; a failed request changed nothing.
  if (res.status < 200 || res.status >= 400) return []

  const targets = new Map<string, URL>()
  const add = (url: URL): void => {
    url.hash = ''
    targets.set(url.href, url)
  }
  // §4.4: the target URI MUST be invalidated.
  add(new URL(req.url.href))
  for (const name of ['location', 'content-location']) {
    for (const value of fieldLines(res.headers, name)) {
      const url = resolve(value.trim(), req.url)
      // §4.4: MUST NOT invalidate a URI whose origin differs from the target's, so a third party cannot
      // empty our cache for another site by pointing Location at it (denial of service).
      if (url !== undefined && url.origin !== 'null' && url.origin === req.url.origin) add(url)
    }
  }
  return [...targets.values()]
}

/** A URI reference resolved against the target URI (RFC 9110 §10.2.2, §8.7); undefined when it is no URL. */
function resolve(value: string, base: URL): URL | undefined {
  if (value === '') return undefined
  try {
    return new URL(value, base)
  } catch {
    return undefined
  }
}
