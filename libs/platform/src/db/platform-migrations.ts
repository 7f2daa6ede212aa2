import { join } from 'path';
import type { MigrationSource } from './migrations';

/** The platform's own tables (outbox, inbox) that every service database has; applied first. */
export const platformMigrations: MigrationSource = {
  namespace: 'platform',
  // src/db or dist/db -> the library root's migrations/ folder
  dir: join(__dirname, '..', '..', 'migrations'),
};
