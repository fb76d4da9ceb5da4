// The canonical form of a value: object keys sorted at every level, so equal
// models print the same bytes and hash to the same digest.

/** A copy with object keys sorted at every level (arrays keep their order; undefined members dropped). */
export function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortDeep(v);
  }
  return out;
}

/** Compact JSON of the canonical form. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortDeep(value)) ?? "null";
}
