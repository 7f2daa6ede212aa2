import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  CitybaseClaims,
  Logger,
  LOGGER,
  OUTBOX,
  PG_POOL,
  Pool,
  SERVICE_CONFIG,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import type { Outbox } from '@citybase/platform';
import { DataEvents } from '@citybase/contracts/events';
import type { DataConfig } from '../config';
import type { Json } from '../access-log/access-log.domain';
import { AccessLog, Evidence } from '../access-log/access-log.service';
import { findDataset } from '../catalog/catalog.store';
import { grantorSees, grantorTenancy } from '../grants/grants.service';
import { findGrant, GrantRow } from '../grants/grants.store';
import {
  checkFiltersAndGroups,
  csvField,
  Cursor,
  encodeCursor,
  groupsQuery,
  PullQuery,
  rowsQuery,
  RowScope,
  secondsToNextUtcDay,
  servedFields,
} from './feeds.domain';
import { FeedErrors } from './feeds.errors';
import {
  addUsage,
  closePull,
  findPull,
  grantState,
  insertPull,
  snapshotBound,
  usedToday,
} from './feeds.store';

export type FeedFormatName = 'NDJSON' | 'CSV';

/** Where a pull's rows go (a gRPC stream, an HTTP response); `write` resolves when it may go on. */
export interface FeedSink {
  /**
   * `text` is a batch of lines as served, each line and "\n"; `lines()` the same lines without
   * their "\n" (split only for a sink that sends them one by one).
   */
  write(text: string, lines: () => string[]): Promise<void>;
}

/** The manifest of a pull (what its evidence hashes, canonically). */
export interface Manifest {
  [k: string]: Json;
  pull_id: string;
  grant_id: string;
  grant_version: number;
  dataset_id: string;
  dataset_version: number;
  format: FeedFormatName;
  rows: number;
  sha256: string;
  cursor: string;
  next_cursor: string;
  fields: { name: string; masking: string }[];
  served_at: string;
}

/**
 * Agency pulls (docs/data.md "Feeds"). A pull is logged before any row leaves (`pull.opened`: if
 * that cannot be written, nothing is served), streams rows in batches (the grant re-checked before
 * each, so revocation and expiry stop it at once), and is closed by `pull.closed` with its manifest,
 * the evidence (a checkpoint covering it and the inclusion proof), the quota's usage and the
 * FeedPulled event in one transaction; if that fails the pull fails and has no manifest (fail closed).
 */
@Injectable()
export class FeedsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(SERVICE_CONFIG) private readonly config: DataConfig,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly log: AccessLog,
  ) {}

  get limits() {
    return { defaultLimit: this.config.DATA_FEED_DEFAULT_LIMIT, maxLimit: this.config.DATA_FEED_MAX_LIMIT };
  }

  async pull(
    claims: CitybaseClaims,
    q: PullQuery,
    format: FeedFormatName,
    sink: FeedSink,
  ): Promise<{ manifest: Manifest; evidence: Evidence }> {
    const now = new Date();
    const grant = await findGrant(this.pool, q.grantId);
    if (!grant || grant.agency_client_id !== claims.sub) throw FeedErrors.grantNotFound(q.grantId);
    assertLive(grant, now);
    const granted = grant.datasets.find((d) => d.dataset_id === q.datasetId);
    if (!granted) throw FeedErrors.datasetNotGranted(q.datasetId);
    const dataset = await findDataset(this.pool, q.datasetId);
    if (!dataset) throw FeedErrors.datasetGone(q.datasetId);
    const fields = servedFields(dataset, granted.fields, FeedErrors.fieldBlocked);
    checkFiltersAndGroups(q, granted.fields);

    const quota = BigInt(grant.quota_rows_per_day);
    const used = await usedToday(this.pool, grant.grant_id);
    if (used >= quota) throw FeedErrors.overQuota(grant.grant_id, quota, secondsToNextUtcDay(now));
    const limit = Math.min(q.limit, Number(quota - used));

    const pullId = randomUUID();
    const grantVersion = Number(grant.version);
    const { bound, openedSeq } = await withTransaction(this.pool, async (client) => {
      const xmin = await snapshotBound(client);
      const entry = await this.log.append(client, 'pull.opened', {
        pull_id: pullId,
        grant_id: grant.grant_id,
        grant_version: grantVersion,
        agency_id: grant.agency_id,
        client_id: claims.sub,
        dataset_id: q.datasetId,
        cursor: q.cursorText,
        limit,
        bound: xmin,
        filters: q.filters.map((f) => ({ field: f.field, values: f.values })),
        group_by: q.groupBy,
        format,
      });
      await insertPull(client, {
        pullId,
        grantId: grant.grant_id,
        clientId: claims.sub,
        datasetId: q.datasetId,
        openedSeq: entry.seq,
      });
      return { bound: xmin, openedSeq: entry.seq };
    });

    const scope: RowScope = {
      operatorId: grant.operator_id,
      projectId: grant.project_id,
      districts: grant.row_filter.districts,
      projectIds: grant.row_filter.project_ids,
    };
    const hash = createHash('sha256');
    let rows = 0;
    let last: Cursor = q.cursor;
    const served = fields.filter((f) => f.masking !== 'DROP').map((f) => f.field.name);
    const emit = async (lines: string[]) => {
      const text = `${lines.join('\n')}\n`;
      hash.update(text);
      await sink.write(text, () => lines);
    };
    // a batch of NDJSON lines as PostgreSQL joined them (a JSON text holds no raw line break)
    const emitNdjson = async (joined: string) => {
      const text = `${joined}\n`;
      hash.update(text);
      await sink.write(text, () => joined.split('\n'));
    };
    try {
      if (q.groupBy.length > 0) {
        const g = groupsQuery(dataset.source_table, q.groupBy, scope, q.filters);
        const params = [q.cursor.txid, q.cursor.seq, bound, ...g.params.slice(3)];
        const { rows: groups } = await this.pool.query<{ j: string }>(g.sql, params);
        const { rows: tail } = await this.pool.query<{ t: string; s: string }>(g.lastSql, params);
        const out = groups.slice(0, limit).map((r) => r.j);
        if (format === 'CSV')
          await emit([
            [...q.groupBy, 'count'].join(','),
            ...out.map((j) => toCsv(j, [...q.groupBy, 'count'])),
          ]);
        else await emit(out);
        rows = out.length;
        if (tail[0] && out.length === groups.length) last = { txid: tail[0].t, seq: tail[0].s };
      } else {
        const query = rowsQuery(dataset.source_table, fields, scope, q.filters, grant.salt);
        if (format === 'CSV') await emit([served.map(csvField).join(',')]);
        type Batch = { n: number; text: string | null; t: string | null; s: string | null };
        const fetch = (from: Cursor, size: number) => ({
          size,
          batch: this.pool
            .query<Batch>(query.sql, [from.txid, from.seq, bound, size, ...query.params.slice(4)])
            .then((r) => r.rows[0]!),
        });
        // the next batch is read while this one is written (the database and the client overlap)
        let pending: { size: number; batch: Promise<Batch> } | undefined =
          limit > 0 ? fetch(last, Math.min(this.config.DATA_FEED_BATCH_ROWS, limit)) : undefined;
        try {
          while (pending) {
            const { size } = pending;
            const batch = await pending.batch;
            pending = undefined;
            if (batch.n === 0 || batch.text === null || batch.t === null || batch.s === null) break;
            rows += batch.n;
            last = { txid: batch.t, seq: batch.s };
            if (batch.n === size && rows < limit)
              pending = fetch(last, Math.min(this.config.DATA_FEED_BATCH_ROWS, limit - rows));
            // revoked or expired since the last batch: nothing more leaves
            if (rows > batch.n) await this.recheck(grant.grant_id);
            if (format === 'CSV') await emit(batch.text.split('\n').map((j) => toCsv(j, served)));
            else await emitNdjson(batch.text);
          }
        } finally {
          void pending?.batch.catch(() => undefined); // a batch read ahead of a pull that stopped
        }
      }
      await this.recheck(grant.grant_id);
    } catch (err) {
      await this.abort(pullId, grant, rows, err);
      throw err;
    }

    const manifest: Manifest = {
      pull_id: pullId,
      grant_id: grant.grant_id,
      grant_version: grantVersion,
      dataset_id: q.datasetId,
      dataset_version: Number(dataset.version),
      format,
      rows,
      sha256: hash.digest('hex'),
      cursor: q.cursorText,
      next_cursor: encodeCursor(last),
      fields: fields.map((f) => ({ name: f.field.name, masking: f.masking })),
      served_at: new Date().toISOString(),
    };
    const evidence = await withTransaction(this.pool, async (client) => {
      const entry = await this.log.append(client, 'pull.closed', {
        pull_id: pullId,
        opened_seq: openedSeq,
        grant_id: grant.grant_id,
        grant_version: grantVersion,
        agency_id: grant.agency_id,
        client_id: claims.sub,
        dataset_id: q.datasetId,
        rows,
        sha256: manifest.sha256,
        next_cursor: manifest.next_cursor,
      });
      const ev = await this.log.evidence(client, entry, {
        pullId,
        grantId: grant.grant_id,
        grantVersion,
        manifest,
      });
      await addUsage(client, grant.grant_id, rows);
      await closePull(client, pullId, entry.seq, manifest, ev);
      await this.outbox.enqueue(
        client,
        DataEvents.FeedPulled,
        {
          pullId,
          grantId: grant.grant_id,
          grantVersion: BigInt(grantVersion),
          agencyId: grant.agency_id,
          datasetId: q.datasetId,
          rows: BigInt(rows),
          sha256: manifest.sha256,
          logSeq: BigInt(entry.seq),
          tenancy: { operatorId: grant.operator_id, projectId: grant.project_id, merchantId: '' },
          occurredAt: toTimestamp(new Date(entry.at)),
        },
        { key: grant.grant_id, tenancy: grantorTenancy(grant) },
      );
      return ev;
    });
    this.logger.info(
      { pull_id: pullId, grant_id: grant.grant_id, dataset_id: q.datasetId, rows, client_id: claims.sub },
      'feed pulled',
    );
    return { manifest, evidence };
  }

  /** The evidence of a finished pull, for the agency's client that pulled or the grantor. */
  async evidenceOf(
    claims: CitybaseClaims,
    pullId: string,
  ): Promise<{ manifest: Manifest; evidence: Evidence }> {
    const p = await findPull(this.pool, pullId);
    if (!p) throw FeedErrors.pullNotFound(pullId);
    if (p.client_id !== claims.sub) {
      const g = await findGrant(this.pool, p.grant_id);
      if (!g || !grantorSees(claims, g)) throw FeedErrors.pullNotFound(pullId);
    }
    return { manifest: p.manifest as Manifest, evidence: p.evidence as Evidence };
  }

  /** Between batches: a revoked or expired grant ends the pull. */
  private async recheck(grantId: string): Promise<void> {
    const s = await grantState(this.pool, grantId);
    if (!s || s.status === 'REVOKED') throw FeedErrors.revoked(grantId);
    if (Date.now() >= s.valid_until.getTime()) throw FeedErrors.expired(grantId);
  }

  /** Records that a pull ended without a manifest (best effort: the opened entry is there already). */
  private async abort(pullId: string, grant: GrantRow, rows: number, err: unknown): Promise<void> {
    const reason = (err as { code?: unknown }).code;
    await withTransaction(this.pool, async (client) => {
      await this.log.append(client, 'pull.aborted', {
        pull_id: pullId,
        grant_id: grant.grant_id,
        rows_sent: rows,
        reason: typeof reason === 'string' ? reason : 'ERROR',
      });
    }).catch((e: unknown) => this.logger.warn({ err: e, pull_id: pullId }, 'pull.aborted not logged'));
  }
}

function assertLive(g: GrantRow, now: Date): void {
  if (g.status === 'REVOKED') throw FeedErrors.revoked(g.grant_id);
  if (now.getTime() < g.valid_from.getTime()) throw FeedErrors.notYetValid(g.grant_id, g.valid_from);
  if (now.getTime() >= g.valid_until.getTime()) throw FeedErrors.expired(g.grant_id);
}

function toCsv(json: string, columns: string[]): string {
  const o = JSON.parse(json) as Record<string, unknown>;
  return columns.map((c) => csvField(o[c])).join(',');
}
