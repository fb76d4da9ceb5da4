// "did you mean …" suggestions: the closest known name by edit distance,
// when it is close enough to be a plausible typo.

/** Levenshtein distance (insert, delete, substitute; each costs 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest candidate (ties: alphabetical), or undefined when none is within a third of the name's length (at least 2 edits). */
export function suggestName(name: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(name.length / 3));
  let best: { name: string; d: number } | undefined;
  for (const c of [...candidates].sort()) {
    if (c === name) continue;
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d <= limit && (best === undefined || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}

/** `did you mean "restart"?`, or undefined. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const s = suggestName(name, candidates);
  return s === undefined ? undefined : `did you mean "${s}"?`;
}
