/**
 * Backends that log every write they receive, in the order they receive it, as the adapter's keys
 * and values (see `BackendWrite`): for the store case that cuts a save after each prefix of its
 * writes. Free of any test-framework import.
 */
import { fromItemKey, type UnstorageLike } from '../../src/storage/unstorage.js'
import type { BackendWrite } from './store-helpers.js'

/** An unstorage `Storage` logging its `setItemRaw` and `removeItem` calls. */
export function recordingUnstorage(storage: UnstorageLike, log: BackendWrite[]): UnstorageLike {
  return {
    getItemRaw: (k) => storage.getItemRaw(k),
    getKeys: (base) => storage.getKeys(base),
    setItemRaw: (k, text) => (log.push([fromItemKey(k)!, JSON.parse(text)]), storage.setItemRaw(k, text)),
    removeItem: (k) => (log.push([fromItemKey(k)!, undefined]), storage.removeItem(k)),
  }
}

/** A Web `Storage` (localStorage) logging its `setItem` and `removeItem` calls, keys without `prefix`. */
export function recordingWebStorage(storage: Storage, prefix: string, log: BackendWrite[]): Storage {
  return {
    get length() {
      return storage.length
    },
    key: (i) => storage.key(i),
    getItem: (k) => storage.getItem(k),
    setItem: (k, text) => (log.push([k.slice(prefix.length), JSON.parse(text)]), storage.setItem(k, text)),
    removeItem: (k) => (log.push([k.slice(prefix.length), undefined]), storage.removeItem(k)),
    clear: () => storage.clear(),
  }
}
