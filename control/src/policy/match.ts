/**
 * Finds the route policy of a request — before authentication, before the body is read — so the
 * body cap and the authorization both come from the same table entry (table.ts).
 *
 * Paths are matched segment by segment on the raw, case-sensitive path, as Hono routes them; a
 * parameter matches one non-empty segment and is percent-decoded (a segment that does not decode
 * matches nothing). Where a static segment and a parameter could both match, the route with more
 * static segments wins, whatever the table's order.
 */

import type { RoutePolicy } from "./table.ts";

export interface MatchedRoute {
  readonly policy: RoutePolicy;
  readonly params: Readonly<Record<string, string>>;
}

interface Compiled {
  readonly policy: RoutePolicy;
  readonly segments: readonly { readonly param?: string; readonly text?: string }[];
  readonly statics: number;
}

export interface RouteMatcher {
  match(method: string, path: string): MatchedRoute | undefined;
  /** Whether any route answers this path with another method (for 405). */
  pathExists(path: string): boolean;
}

export function createRouteMatcher(table: readonly RoutePolicy[]): RouteMatcher {
  const compiled: Compiled[] = table.map((policy) => {
    const segments = policy.path
      .split("/")
      .slice(1)
      .map((segment) => (segment.startsWith(":") ? { param: segment.slice(1) } : { text: segment }));
    return { policy, segments, statics: segments.filter((s) => s.text !== undefined).length };
  });
  compiled.sort((a, b) => b.statics - a.statics);

  function matchPath(entry: Compiled, parts: readonly string[]): Record<string, string> | undefined {
    if (parts.length !== entry.segments.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i++) {
      const segment = entry.segments[i] as { param?: string; text?: string };
      const part = parts[i] as string;
      if (segment.text !== undefined) {
        if (segment.text !== part) return undefined;
        continue;
      }
      if (part === "") return undefined;
      try {
        params[segment.param as string] = decodeURIComponent(part);
      } catch {
        return undefined;
      }
    }
    return params;
  }

  return {
    match(method, path) {
      const parts = path.split("/").slice(1);
      for (const entry of compiled) {
        if (entry.policy.method !== method) continue;
        const params = matchPath(entry, parts);
        if (params !== undefined) return { policy: entry.policy, params };
      }
      return undefined;
    },
    pathExists(path) {
      const parts = path.split("/").slice(1);
      return compiled.some((entry) => matchPath(entry, parts) !== undefined);
    },
  };
}
