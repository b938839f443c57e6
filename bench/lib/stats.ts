/** Nearest-rank percentile of `sorted` (ascending), `p` in 0..100; NaN for no samples. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number
}

/** A growable list of latencies in milliseconds, without a boxed number per sample. */
export class Samples {
  #values = new Float64Array(1 << 16)
  #length = 0

  get length(): number {
    return this.#length
  }

  push(value: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2)
      grown.set(this.#values)
      this.#values = grown
    }
    this.#values[this.#length++] = value
  }

  sorted(): Float64Array {
    return this.#values.slice(0, this.#length).sort()
  }
}
