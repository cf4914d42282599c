import { SECRET } from './conformance.js'

/**
 * A Web Storage (`localStorage`-shaped) object in memory, for running the localStorage adapter where
 * there is none (Node) and for exact quota tests: `quota` counts UTF-16 code units of keys plus
 * values, like browsers do, and a write over it throws a `QuotaExceededError` DOMException and
 * changes nothing, as the HTML standard requires.
 */
export class FakeStorage implements Storage {
  #data = new Map<string, string>()
  constructor(readonly quota = Infinity) {}
  [name: string]: unknown
  get length(): number {
    return this.#data.size
  }
  get used(): number {
    let n = 0
    for (const [k, v] of this.#data) n += k.length + v.length
    return n
  }
  key(index: number): string | null {
    return [...this.#data.keys()][index] ?? null
  }
  getItem(key: string): string | null {
    return this.#data.get(String(key)) ?? null
  }
  setItem(key: string, value: string): void {
    const before = this.#data.get(key)
    const after = this.used - (before === undefined ? 0 : key.length + before.length) + key.length + String(value).length
    if (after > this.quota) throw new DOMException(`Setting the value of '${key}' exceeded the quota.`, 'QuotaExceededError')
    this.#data.set(String(key), String(value))
  }
  removeItem(key: string): void {
    this.#data.delete(String(key))
  }
  clear(): void {
    this.#data.clear()
  }
}

/** A Storage whose every method throws an error quoting `SECRET`, as a broken backend might echo a value. */
export function brokenStorage(): Storage {
  const fail = () => {
    throw new Error(`backend down while holding ${SECRET}`)
  }
  return { get length(): number { return fail() }, key: fail, getItem: fail, setItem: fail, removeItem: fail, clear: fail } as Storage
}
