/**
 * The statuses that count as "up" for a monitor, as people type them: one status (`204`) or an
 * inclusive range (`200-399`). One parser for the CLI's `--expect` and the admin page's field, so both
 * accept exactly what the control Worker's schema does (100–599, min ≤ max).
 */

export interface StatusRange {
  readonly min: number;
  readonly max: number;
}

/** `"200-399"` → {200, 399}; `"204"` → {204, 204}; anything else (or min above max) → undefined. */
export function parseStatusRange(text: string): StatusRange | undefined {
  const match = /^([1-5][0-9]{2})(?:\s*-\s*([1-5][0-9]{2}))?$/.exec(text.trim());
  if (match === null) return undefined;
  const min = Number(match[1]);
  const max = Number(match[2] ?? match[1]);
  return min <= max ? { min, max } : undefined;
}

/** The inverse, for display: `{200, 399}` → `"200-399"`, `{204, 204}` → `"204"`. */
export const formatStatusRange = (range: StatusRange): string =>
  range.min === range.max ? `${range.min}` : `${range.min}-${range.max}`;
