// "Did you mean ...?" for names a user misspells: tracepoints, uprobe symbols.

/** Up to `count` names within a few edits of `word` (a quarter of its length, at least 2), closest first. */
export function similarNames(word: string, names: Iterable<string>, count = 3): string[] {
  const limit = Math.max(2, Math.floor(word.length / 4));
  const near: { name: string; d: number }[] = [];
  for (const name of new Set(names)) {
    // Lengths alone bound the distance: most names are skipped without computing it.
    if (Math.abs(name.length - word.length) > limit) continue;
    const d = editDistance(word, name, limit);
    if (d <= limit) near.push({ name, d });
  }
  return near.sort((a, b) => a.d - b.d || a.name.localeCompare(b.name)).slice(0, count).map((x) => x.name);
}

/** Levenshtein distance; anything beyond `limit` is reported as limit + 1. */
function editDistance(a: string, b: string, limit: number): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    if (Math.min(...next) > limit) return limit + 1;
    row = next;
  }
  return row[b.length]!;
}
