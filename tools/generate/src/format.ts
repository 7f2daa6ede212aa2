import { extname, join } from 'path';
import * as prettier from 'prettier';
import { WORKSPACE_ROOT } from './tree';

const FORMATTED = new Set(['.ts', '.js', '.json', '.md']);

let options: Promise<prettier.Options> | undefined;

/**
 * Formats a generated file as `npx prettier --write` would in this workspace (its .prettierrc,
 * wherever the file is written), so generated output is stable and passes the prettier check.
 * Proto, shell and SQL files are written as the templates spell them.
 */
export async function format(path: string, text: string): Promise<string> {
  if (!FORMATTED.has(extname(path))) return text;
  options ??= prettier.resolveConfig(join(WORKSPACE_ROOT, 'package.json')).then((o) => o ?? {});
  return prettier.format(text, { ...(await options), filepath: path });
}
