/**
 * The subset of Cloudflare D1 the control Worker uses, as plain exported types rather than the
 * ambient globals of @cloudflare/workers-types: the same data layer then typechecks in the Worker
 * program and in Node (the dev stack and tests hand it Miniflare's `getD1Database()`), and the core's
 * web-standard typings stay intact (see dispatch/src/workers-runtime.d.ts for that conflict).
 * Shapes follow @cloudflare/workers-types 5.20261103.1.
 *
 * D1 facts this layer is built on: every statement runs alone against one SQLite primary (statements
 * are serialized, so one `INSERT … SELECT` is atomic); `batch()` runs its statements in one
 * transaction; there are no interactive transactions, so read-then-write races are settled by
 * UNIQUE constraints and conditional writes, never by locks.
 */

export interface D1Meta {
  readonly changes: number;
  readonly last_row_id: number;
  readonly duration: number;
}

export interface D1Result<T = Record<string, unknown>> {
  readonly results: T[];
  readonly success: boolean;
  readonly meta: D1Meta;
}

export interface D1PreparedStatement {
  bind(...values: unknown[]): D1PreparedStatement;
  first<T = Record<string, unknown>>(): Promise<T | null>;
  run<T = Record<string, unknown>>(): Promise<D1Result<T>>;
  all<T = Record<string, unknown>>(): Promise<D1Result<T>>;
}

export interface D1Database {
  prepare(query: string): D1PreparedStatement;
  batch<T = Record<string, unknown>>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
}

/**
 * True when `error` is SQLite refusing a write for a UNIQUE / PRIMARY KEY violation — the signal that
 * a concurrent writer won a race (or that a random id collided) and the caller should retry. With
 * `column` (`"table.column"`), only a violation on that column counts, so a different constraint
 * failing is never mistaken for a lost race. D1 reports it as `D1_ERROR: UNIQUE constraint failed:
 * audit_log.seq: SQLITE_CONSTRAINT` (the wording SQLite itself uses).
 */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  const message = error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : String(error);
  const match = /UNIQUE constraint failed: ([^:]+?)(?::|$| SQLITE)/.exec(message);
  if (match === null) return false;
  if (column === undefined) return true;
  return (match[1] as string).split(",").some((name) => name.trim() === column);
}

/** Milliseconds since the epoch; replaced in tests. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
