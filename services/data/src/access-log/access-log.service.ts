import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import {
  Logger,
  LOGGER,
  PeriodicTask,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  withTransaction,
} from '@citybase/platform';
import type { DataConfig } from '../config';
import {
  canonicalJson,
  checkpointMessage,
  entryHash,
  EVIDENCE_FORMAT,
  EXPORT_FORMAT,
  GENESIS_HASH,
  inclusionProof,
  Json,
  LogEntry,
  LogSigner,
  merkleRoot,
  sha256Hex,
} from './access-log.domain';
import {
  checkpointsFrom,
  CheckpointRow,
  entriesFrom,
  entryHashes,
  EntryRow,
  insertCheckpoint,
  insertEntry,
  lastCheckpoint,
  lastEntry,
  lockLog,
} from './access-log.store';

export interface Checkpoint {
  tree_size: number;
  root: string;
  key_id: string;
  signature: string;
  signed_at: string;
}

/** What an agency keeps per pull: checkable offline with the city's public key alone. */
export interface Evidence {
  format: typeof EVIDENCE_FORMAT;
  city: string;
  pull_id: string;
  grant_id: string;
  grant_version: number;
  /** sha256 hex of the canonical JSON of `manifest`. */
  manifest_hash: string;
  manifest: { [k: string]: Json };
  entry: LogEntry;
  inclusion: { leaf_index: number; tree_size: number; path: string[] };
  checkpoint: Checkpoint;
  public_key: string;
}

export function entryOf(r: EntryRow): LogEntry {
  return {
    seq: Number(r.seq),
    at: r.at.toISOString(),
    kind: r.kind,
    body: JSON.parse(r.body) as { [k: string]: Json },
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

function checkpointOf(r: CheckpointRow): Checkpoint {
  return {
    tree_size: Number(r.tree_size),
    root: r.root,
    key_id: r.key_id,
    signature: r.signature,
    signed_at: r.signed_at.toISOString(),
  };
}

/**
 * The access log (docs/data.md "Access log", ADR 0011): every pull and grant change is appended
 * inside the transaction of what it records, in one writer order (an advisory lock); signed Merkle
 * checkpoints cover it at every pull's close and periodically for grant changes.
 */
@Injectable()
export class AccessLog implements OnModuleInit, OnModuleDestroy {
  readonly signer: LogSigner;
  private readonly task: PeriodicTask;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(SERVICE_CONFIG) private readonly config: DataConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.signer = new LogSigner(config.DATA_SIGNING_KEY);
    this.task = new PeriodicTask({
      name: 'access-log checkpoint',
      intervalMs: config.DATA_CHECKPOINT_INTERVAL_MS,
      logger,
      maxBackoffMs: 600_000,
      run: () => this.checkpointIfBehind().then(() => undefined),
    });
  }

  onModuleInit(): void {
    this.task.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.task.stop();
  }

  /** Appends one entry in the caller's transaction (takes the log's lock until it ends). */
  async append(client: PoolClient, kind: string, body: { [k: string]: Json }): Promise<LogEntry> {
    await lockLog(client);
    const last = await lastEntry(client);
    const { rows } = await client.query<{ now: Date }>(`SELECT clock_timestamp() AS now`);
    const at = new Date(rows[0]!.now.toISOString()); // millisecond precision, as exported
    const e = {
      seq: (last?.seq ?? 0) + 1,
      at: at.toISOString(),
      kind,
      body,
      prev_hash: last?.hash ?? GENESIS_HASH,
    };
    const hash = entryHash(e);
    await insertEntry(client, {
      seq: e.seq,
      at,
      kind,
      body: canonicalJson(body),
      prevHash: e.prev_hash,
      hash,
    });
    return { ...e, hash };
  }

  /**
   * A signed checkpoint of the whole log as it is in the caller's transaction (which holds the
   * lock, having appended), and the inclusion proof of entry `seq` in it.
   */
  async checkpointWithProof(
    client: PoolClient,
    seq: number,
  ): Promise<{ checkpoint: Checkpoint; path: string[] }> {
    const last = await lastEntry(client);
    const size = last?.seq ?? 0;
    const hashes = await entryHashes(client, size);
    const root = merkleRoot(hashes);
    const signature = this.signer.sign(checkpointMessage(this.config.CITY_ID, size, root));
    await insertCheckpoint(client, { treeSize: size, root, keyId: this.signer.keyId, signature });
    return {
      checkpoint: {
        tree_size: size,
        root,
        key_id: this.signer.keyId,
        signature,
        signed_at: new Date().toISOString(),
      },
      path: inclusionProof(hashes, seq - 1),
    };
  }

  /** The evidence of a pull whose close entry is `entry`, with a checkpoint covering it. */
  async evidence(
    client: PoolClient,
    entry: LogEntry,
    pull: { pullId: string; grantId: string; grantVersion: number; manifest: { [k: string]: Json } },
  ): Promise<Evidence> {
    const { checkpoint, path } = await this.checkpointWithProof(client, entry.seq);
    return {
      format: EVIDENCE_FORMAT,
      city: this.config.CITY_ID,
      pull_id: pull.pullId,
      grant_id: pull.grantId,
      grant_version: pull.grantVersion,
      manifest_hash: manifestHash(pull.manifest),
      manifest: pull.manifest,
      entry,
      inclusion: { leaf_index: entry.seq - 1, tree_size: checkpoint.tree_size, path },
      checkpoint,
      public_key: this.signer.publicKeyDer,
    };
  }

  /** Writes a checkpoint when entries were appended since the last one (the periodic task's pass). */
  async checkpointIfBehind(): Promise<boolean> {
    return withTransaction(this.pool, async (client) => {
      await lockLog(client);
      const last = await lastEntry(client);
      const cp = await lastCheckpoint(client);
      if (!last || (cp && Number(cp.tree_size) >= last.seq)) return false;
      await this.checkpointWithProof(client, last.seq);
      return true;
    });
  }

  /** The log from `fromSeq` with every checkpoint that covers an exported entry, as one JSON document. */
  async exportLog(fromSeq: number): Promise<{ json: string; entries: number }> {
    await this.checkpointIfBehind();
    const entries = (await entriesFrom(this.pool, fromSeq)).map(entryOf);
    const checkpoints = (await checkpointsFrom(this.pool, fromSeq)).map(checkpointOf);
    const doc = {
      format: EXPORT_FORMAT,
      city: this.config.CITY_ID,
      public_key: this.signer.publicKeyDer,
      key_id: this.signer.keyId,
      from_seq: fromSeq,
      // the hash before the first exported entry: entries before it are not in this export
      anchor_hash: fromSeq <= 1 ? GENESIS_HASH : (entries[0]?.prev_hash ?? GENESIS_HASH),
      entries,
      checkpoints,
    };
    return { json: JSON.stringify(doc, null, 1), entries: entries.length };
  }
}

export function manifestHash(manifest: { [k: string]: Json }): string {
  return sha256Hex(canonicalJson(manifest));
}
