import { base64Key32, serviceConfigSchema } from '@citybase/platform';
import { z } from 'zod';

export const dataConfig = serviceConfigSchema({
  grpcPort: 50057,
  httpPort: 8087,
  database: 'citybase_data',
}).extend({
  /**
   * Base64 of the 32-byte Ed25519 seed of the city's access-log key: signs the log's Merkle
   * checkpoints. Keep it in the city's secret store (deploy/local generates one on first start).
   */
  DATA_SIGNING_KEY: base64Key32,
  /** Rows per database round trip of a pull; grants are re-checked between batches. */
  DATA_FEED_BATCH_ROWS: z.coerce.number().int().min(1).max(100_000).default(5_000),
  /** Rows of a pull when the request gives no limit. */
  DATA_FEED_DEFAULT_LIMIT: z.coerce.number().int().min(1).default(100_000),
  /** Most rows of one pull. */
  DATA_FEED_MAX_LIMIT: z.coerce.number().int().min(1).default(10_000_000),
  /** How often a signed checkpoint covers log entries written since the last one (grant changes). */
  DATA_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /** Newest rows the PII scan reads per dataset. */
  DATA_SCAN_SAMPLE_ROWS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  // ---- analytical store (src/store, docs/data.md "Analytical store") ----
  /** Months of facts and hourly rollups kept; older monthly partitions are dropped. */
  DATA_RETENTION_MONTHS: z.coerce.number().int().min(1).max(120).default(24),
  /** Days of daily rollups kept (they outlive the facts). */
  DATA_DAILY_ROLLUP_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(3_650),
  /** How often the retention job runs (drops old partitions, creates the next months'). */
  DATA_RETENTION_INTERVAL_MS: z.coerce.number().int().min(50).max(86_400_000).default(3_600_000),
  /** How often pending rollup contributions are folded into the hourly and daily rollups. */
  DATA_FOLD_INTERVAL_MS: z.coerce.number().int().min(20).max(60_000).default(250),
  /** How often the freshness gauges are refreshed. */
  DATA_FRESHNESS_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(5_000),
  /** Events applied per database transaction by each ingest consumer. */
  DATA_INGEST_GROUP_SIZE: z.coerce.number().int().min(1).max(5_000).default(500),
  // ---- dashboard (src/dashboard, docs/data.md "Dashboard") ----
  /** identity's OAuth2 token endpoint the dashboard's sign-in forwards client credentials to. */
  DATA_IDENTITY_TOKEN_URL: z.string().url().default('http://127.0.0.1:8081/oauth/token'),
  /** Shortest time between two updates of a dashboard connection (each panel at most 1-2/s). */
  DATA_DASHBOARD_MIN_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(700),
});
export type DataConfig = z.infer<typeof dataConfig>;
