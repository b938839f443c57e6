/**
 * Checks the option resolvers share (options.ts): each either returns the value in the
 * shape the code uses or throws InvalidOptionError naming the option, what it takes and what it got.
 */
import { InvalidOptionError } from './errors.js'

export function list<T>(value: unknown, option: string, check: (item: unknown) => item is T, expected: string): T[] {
  if (!Array.isArray(value)) throw new InvalidOptionError(option, `an array of ${expected}`, value)
  for (const item of value) if (!check(item)) throw new InvalidOptionError(option, `an array of ${expected}`, value)
  return value as T[]
}

export function bool(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value === 'boolean') return value
  throw new InvalidOptionError(option, 'a boolean', value)
}

export function fn<F>(value: F | undefined, option: string): F | undefined {
  if (value === undefined || typeof value === 'function') return value
  throw new InvalidOptionError(option, 'a function', value)
}

export function positiveInteger(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value
  throw new InvalidOptionError(option, 'a positive integer', value)
}

export function plainObject(value: unknown, option: string): Readonly<Record<string, unknown>> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>
  throw new InvalidOptionError(option, 'an object of URL patterns to lifetimes', value)
}

export const isStatus = (item: unknown): item is number => Number.isInteger(item) && (item as number) >= 200 && (item as number) <= 599
export const isNonEmptyString = (item: unknown): item is string => typeof item === 'string' && item.length > 0

/** A stale window (staleIfError, staleWhileRevalidate): `true` → any staleness, seconds → that window, false/0/unset → off. */
export function staleWindowSeconds(value: unknown, option: string): number {
  if (value === undefined || value === false) return 0
  if (value === true) return Infinity
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  throw new InvalidOptionError(option, 'a boolean or a number of seconds ≥ 0', value)
}
