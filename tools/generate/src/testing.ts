import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { REGISTRIES } from './registries';
import { Tree, WORKSPACE_ROOT } from './tree';

/**
 * A temporary tree holding copies of only the given workspace paths (files or folders), for tests
 * that generate into it; `dispose` deletes it. `base` inside the workspace (tools/generate/.scratch,
 * git-ignored) lets generated code resolve the workspace's node_modules at run time; copy no
 * project.json there (Nx would see a second project of the same name).
 */
export function scratchTree(paths: string[], base = tmpdir()): Tree & { dispose(): void } {
  mkdirSync(base, { recursive: true });
  const root = mkdtempSync(join(base, 'citybase-generate-'));
  for (const p of paths) cpSync(join(WORKSPACE_ROOT, p), join(root, p), { recursive: true });
  return Object.assign(new Tree(root), { dispose: () => rmSync(root, { recursive: true, force: true }) });
}

/** The files `service <name>` edits: a tree with these is enough to generate a service into. */
export const REGISTRY_PATHS = [...new Set(REGISTRIES.map((r) => r.path))];
