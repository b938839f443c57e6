/**
 * Every diagnostics_channel name this package publishes on, declared once, and the rate-limited
 * error reporter behind the `onError` option.
 */
import * as diagnostics from 'node:diagnostics_channel'
import { debuglog } from 'node:util'
import { systemClock, type Clock } from './clock.js'
import type { CacheError } from './errors.js'

export const channels = {
  /** A stored response was served without contacting the origin. Message: { url, id, stale }. */
  hit: diagnostics.channel('undici-redis-cache:cache:hit'),
  /** Nothing usable was stored; the request went to the origin. Message: { url, id, reason }. */
  miss: diagnostics.channel('undici-redis-cache:cache:miss'),
  /** A stale entry was revalidated. Message: { url, id, status }. */
  revalidate: diagnostics.channel('undici-redis-cache:cache:revalidate'),
  /** A stale entry was served because the origin failed or while revalidating. Message: { url, id, reason }. */
  stale: diagnostics.channel('undici-redis-cache:cache:stale'),
  /** A response was stored. Message: { url, id, size }. */
  store: diagnostics.channel('undici-redis-cache:cache:store'),
  /** A store call failed, timed out, or returned a corrupt entry. Message: { error }. */
  error: diagnostics.channel('undici-redis-cache:store:error'),
} as const

export const debug = debuglog('undici-redis-cache')

/**
 * `NODE_DEBUG=undici-redis-cache`: one line per hit, miss, revalidation, stale serve and store write,
 * from the channels above, so the log says what a subscriber sees (the redacted URL, never a secret
 * in it). Subscribed only when enabled: otherwise no message object is ever built (hasSubscribers).
 * Errors are logged by createReporter, once per report.
 */
if (debug.enabled) {
  for (const event of ['hit', 'miss', 'revalidate', 'stale', 'store'] as const) {
    diagnostics.subscribe(channels[event].name, (message) => {
      const { url, id, reason, size } = message as { url: string; id: string; reason?: string | number; size?: number }
      debug('%s %s %s id=%s', event, url, reason ?? `${size} bytes`, id)
    })
  }
}

/** Minimum milliseconds between two reports of the same error code. */
const REPORT_INTERVAL_MS = 1000

/**
 * Builds the reporter: a change of error code is reported at once, repeats of the same code at most
 * once a second of `clock` time, so a dead Redis under load does not flood logs. `onError` must not
 * throw; if it does, the throw is swallowed after a debuglog line, since a reporting bug must not
 * fail a request.
 */
export function createReporter(onError: ((error: CacheError) => void) | undefined, clock: Clock = systemClock): (error: CacheError) => void {
  let lastCode: string | undefined
  let lastAt = -Infinity
  let suppressed = 0
  return (error) => {
    const t = clock.now()
    if (error.code === lastCode && t - lastAt < REPORT_INTERVAL_MS) {
      suppressed++
      return
    }
    if (suppressed > 0) debug('%d similar errors suppressed', suppressed)
    lastCode = error.code
    lastAt = t
    suppressed = 0
    debug('%s: %s', error.code, error.message)
    if (channels.error.hasSubscribers) channels.error.publish({ error })
    if (onError !== undefined) {
      try {
        onError(error)
      } catch (thrown) {
        debug('onError threw: %o', thrown)
      }
    }
  }
}
