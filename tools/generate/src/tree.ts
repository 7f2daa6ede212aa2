import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'fs';
import { dirname, join, resolve } from 'path';

/** The workspace this generator belongs to (tools/generate/{src,dist}/ -> the repository root). */
export const WORKSPACE_ROOT = resolve(__dirname, '..', '..', '..');

/** Files of a repository tree, by path relative to its root (`/`-separated). */
export class Tree {
  constructor(readonly root: string) {}

  path(rel: string): string {
    return join(this.root, rel);
  }

  exists(rel: string): boolean {
    return existsSync(this.path(rel));
  }

  isDir(rel: string): boolean {
    return this.exists(rel) && statSync(this.path(rel)).isDirectory();
  }

  read(rel: string): string | undefined {
    const p = this.path(rel);
    return existsSync(p) && statSync(p).isFile() ? readFileSync(p, 'utf8') : undefined;
  }

  /** Reads a file the generator cannot work without. */
  need(rel: string): string {
    const text = this.read(rel);
    if (text === undefined) throw new Error(`${rel}: not found under ${this.root}`);
    return text;
  }

  list(rel: string): string[] {
    return this.isDir(rel) ? readdirSync(this.path(rel)).sort() : [];
  }

  write(rel: string, content: string): void {
    const p = this.path(rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}
