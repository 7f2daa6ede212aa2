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
});
export type DataConfig = z.infer<typeof dataConfig>;
