/**
 * Parsed directive records for policy tests: the ones that constrain nothing, with a row's fields on top,
 * so a row names only what it sets.
 */
import type { RequestDirectives, ResponseDirectives } from '../../lib/policy/directives.js'
import { NO_REQUEST_DIRECTIVES, NO_RESPONSE_DIRECTIVES } from '../../lib/policy/reuse.js'

export function resDirectives(partial: Partial<ResponseDirectives> = {}): ResponseDirectives {
  return { ...NO_RESPONSE_DIRECTIVES, ...partial }
}

export function reqDirectives(partial: Partial<RequestDirectives> = {}): RequestDirectives {
  return { ...NO_REQUEST_DIRECTIVES, ...partial }
}
