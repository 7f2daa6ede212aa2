import { execFileSync } from 'child_process';
import { extname } from 'path';
import { WORKSPACE_ROOT } from './tree';

const FORMATTED = new Set(['.ts', '.js', '.json', '.md']);

/**
 * Prettier 3 runs its core as an ES module (a dynamic import), which Jest cannot load without
 * experimental flags; so it runs in a child Node process, once for a whole batch of files.
 */
const FORMATTER = `
const prettier = require(require.resolve('prettier', { paths: [process.cwd()] }));
let input = '';
process.stdin.on('data', (d) => (input += d)).on('end', async () => {
  const options = (await prettier.resolveConfig('package.json')) ?? {};
  const out = [];
  for (const f of JSON.parse(input)) out.push(await prettier.format(f.content, { ...options, filepath: f.path }));
  process.stdout.write(JSON.stringify(out));
});`;

/**
 * Formats generated files as \`npx prettier --write\` would in this workspace (its .prettierrc,
 * wherever the files are written), so the output is stable and passes the prettier check. Proto,
 * shell and SQL files are left as the templates spell them.
 */
export function formatFiles<T extends { path: string; content: string }>(files: T[]): T[] {
  const todo = files.filter((f) => FORMATTED.has(extname(f.path)));
  if (todo.length === 0) return files;
  const formatted = JSON.parse(
    execFileSync(process.execPath, ['-e', FORMATTER], {
      cwd: WORKSPACE_ROOT,
      input: JSON.stringify(todo.map((f) => ({ path: f.path, content: f.content }))),
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'utf8',
    }),
  ) as string[];
  const byFile = new Map(todo.map((f, i) => [f, formatted[i] ?? f.content]));
  return files.map((f) => ({ ...f, content: byFile.get(f) ?? f.content }));
}
