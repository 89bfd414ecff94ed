/**
 * What one isolate remembers between requests: a bounded map, least recently used dropped first,
 * each entry served only before its own expiry. The dispatch Worker keeps the tenants' CSPs and the
 * status feeds read from Workers KV in it (dispatch/src/tenant-csp.ts, site-feeds.ts); the control
 * Worker keeps Confluence's permission answers (control/src/confluence/permissions.ts).
 *
 * Only values are kept, never promises: a promise made in one request's context must not be handed to
 * another request (workerd does not support it; the waiter can hang when the first request ends).
 */

export class IsolateCache<V> {
  readonly #capacity: number;
  /** Map keeps insertion order: the first key is the least recently used. */
  readonly #entries = new Map<string, { readonly value: V; readonly expiresAt: number }>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value for `key` while it is fresh at `now` (Unix ms); undefined once it expired or was dropped. */
  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    // Written as "before expiry" so that a NaN clock counts as expired.
    if (!(now < entry.expiresAt)) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Keeps `value` until `expiresAt` (Unix ms), dropping the least recently used entry when full. */
  set(key: string, value: V, expiresAt: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt });
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }
}

/**
 * One value per key object (an env, its configuration, a keyring), built on first use from that key
 * and the arguments of that first call, and dropped with the key: what an isolate derives once from
 * its env and reuses on every request.
 */
export function onePer<K extends object, V, A extends unknown[]>(
  create: (key: K, ...args: A) => V,
): (key: K, ...args: A) => V {
  const values = new WeakMap<K, V>();
  return (key, ...args) => {
    let value = values.get(key);
    if (value === undefined) {
      value = create(key, ...args);
      values.set(key, value);
    }
    return value;
  };
}
