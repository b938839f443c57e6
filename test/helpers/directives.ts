/**
 * Parsed directive records for policy tests: the ones that constrain nothing, with a row's fields on top,
 * so a row names only what it sets.
 */
import type { RequestDirectives, ResponseDirectives } from '../../lib/policy/directives.js'
import { NO_REQUEST_DIRECTIVES, NO_RESPONSE_DIRECTIVES } from '../../lib/policy/directives.js'

export function resDirectives(partial: Partial<ResponseDirectives> = {}): ResponseDirectives {
  return { ...NO_RESPONSE_DIRECTIVES, ...partial }
}

export function reqDirectives(partial: Partial<RequestDirectives> = {}): RequestDirectives {
  return { ...NO_REQUEST_DIRECTIVES, ...partial }
}

/**
 * A row's directives as the request path hands them to policy: with `cacheControl: false` the gate
 * (effectiveResponseDirectives) lets no response directive through, whatever the row set; the
 * request's own directives always pass.
 */
export function gatedDirectives(
  cacheControl: boolean | undefined,
  res: Partial<ResponseDirectives> | undefined,
  req: Partial<RequestDirectives> | undefined,
): { readonly responseDirectives: ResponseDirectives; readonly requestDirectives: RequestDirectives } {
  return { responseDirectives: cacheControl === false ? NO_RESPONSE_DIRECTIVES : resDirectives(res), requestDirectives: reqDirectives(req) }
}
