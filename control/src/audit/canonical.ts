/**
 * Canonical JSON: one spelling per value, so a MAC over it is a MAC over the meaning. Object keys in
 * code-unit order, no whitespace, numbers as JSON.stringify writes them (finite only), strings as
 * JSON.stringify escapes them. Anything else (undefined, functions, NaN, bigint, cycles) is refused
 * rather than silently dropped, because a dropped field would be an unauthenticated field.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Deepest nesting accepted in audit details: they describe an event, they are not documents. */
export const MAX_CANONICAL_DEPTH = 16;

export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_CANONICAL_DEPTH) throw new TypeError("canonicalJson: nested too deep");
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("canonicalJson: numbers must be finite");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item, depth + 1)).join(",")}]`;
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.keys(value)
      .sort()
      .map(
        (key) =>
          `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key], depth + 1)}`,
      );
    return `{${entries.join(",")}}`;
  }
  throw new TypeError(`canonicalJson: ${typeof value} is not JSON`);
}
