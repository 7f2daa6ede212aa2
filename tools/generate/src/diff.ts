/**
 * A line diff of two texts in unified style (`-` only in the tree, `+` only in the generator's
 * output), with `context` lines around each change. Longest common subsequence; the files compared
 * are small scaffolding files, so the quadratic table is fine.
 */
export function lineDiff(actual: string, expected: string, context = 2): string {
  const a = actual.split('\n');
  const b = expected.split('\n');
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const ops: { op: ' ' | '-' | '+'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ op: ' ', line: a[i] });
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      ops.push({ op: '-', line: a[i] });
      i++;
    } else {
      ops.push({ op: '+', line: b[j] });
      j++;
    }
  }
  const keep = ops.map((_, k) =>
    ops.slice(Math.max(0, k - context), k + context + 1).some((x) => x.op !== ' '),
  );
  const out: string[] = [];
  ops.forEach((o, k) => {
    if (keep[k]) out.push(`${o.op} ${o.line}`);
    else if (keep[k - 1]) out.push('  ...');
  });
  return out.join('\n');
}
