import { createHash } from 'crypto';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import type { Pool } from 'pg';

export interface MigrationSource {
  /** Distinguishes sets of migrations in one database, e.g. "platform" and "payment". */
  namespace: string;
  dir: string;
}

export interface Migration {
  namespace: string;
  version: number;
  name: string;
  sql: string;
  checksum: string;
  /**
   * Checksums of earlier texts of this file that count as this one (lines
   * `-- replaces-checksum: <sha256>`): for a definition moved elsewhere by a later migration, so a
   * database that applied the earlier text is not refused. Any other change is refused.
   */
  replaces: string[];
}

export interface MigrationResult {
  applied: Migration[];
  alreadyApplied: number;
}

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function readMigrations(source: MigrationSource): Migration[] {
  const files = readdirSync(source.dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const migrations = files.map((file) => {
    const m = FILE.exec(file);
    if (!m)
      throw new Error(`migration ${join(source.dir, file)}: name must look like 0001_create_things.sql`);
    const sql = readFileSync(join(source.dir, file), 'utf8');
    return {
      namespace: source.namespace,
      version: Number(m[1]),
      name: m[2],
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
      replaces: [...sql.matchAll(/^-- replaces-checksum: ([0-9a-f]{64})$/gm)].map((r) => r[1]!),
    };
  });
  migrations.forEach((mig, i) => {
    if (mig.version !== i + 1) {
      throw new Error(
        `migrations in ${source.dir}: expected version ${i + 1} but found ${mig.version} (${mig.name}); versions must be 1..n without gaps`,
      );
    }
  });
  return migrations;
}

// Any fixed 64-bit key will do; it only has to be the same for every runner of this database.
const LOCK_KEY = 0x63697479; // "city"

/**
 * Applies numbered SQL files once and only once, each in its own transaction together with its
 * bookkeeping row. Concurrent runners (several replicas starting at once) serialize on an
 * advisory lock. An applied migration whose file later changed is an error, not silently skipped.
 */
export async function runMigrations(
  pool: Pool,
  sources: readonly MigrationSource[],
): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      namespace text NOT NULL,
      version integer NOT NULL,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (namespace, version))`);
    const { rows } = await client.query<{ namespace: string; version: number; checksum: string }>(
      'SELECT namespace, version, checksum FROM schema_migrations',
    );
    const done = new Map(rows.map((r) => [`${r.namespace}/${r.version}`, r.checksum]));
    const applied: Migration[] = [];
    let alreadyApplied = 0;
    for (const source of sources) {
      for (const mig of readMigrations(source)) {
        const prior = done.get(`${mig.namespace}/${mig.version}`);
        if (prior !== undefined) {
          if (prior !== mig.checksum && mig.replaces.includes(prior)) {
            await client.query(
              'UPDATE schema_migrations SET checksum = $3 WHERE namespace = $1 AND version = $2',
              [mig.namespace, mig.version, mig.checksum],
            );
          } else if (prior !== mig.checksum) {
            throw new Error(
              `migration ${mig.namespace}/${mig.version}_${mig.name} was changed after it was applied; add a new migration instead`,
            );
          }
          alreadyApplied++;
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(mig.sql);
          await client.query(
            'INSERT INTO schema_migrations (namespace, version, name, checksum) VALUES ($1, $2, $3, $4)',
            [mig.namespace, mig.version, mig.name, mig.checksum],
          );
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(
            `migration ${mig.namespace}/${mig.version}_${mig.name} failed: ${(err as Error).message}`,
          );
        }
        applied.push(mig);
      }
    }
    return { applied, alreadyApplied };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}
