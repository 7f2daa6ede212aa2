import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import {
  EventConsumer,
  EventContext,
  EventSubscriber,
  fromTimestamp,
  SERVICE_CONFIG,
  Subscribe,
  SubscribeGroup,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import { ProjectKind } from '@citybase/contracts/citybase/identity/v1/tenancy';
import type { DataConfig } from '../config';
import { enumName, SOURCES } from './store.facts';
import { IngestService } from './store.ingest';

/** Events applied per transaction by every ingest consumer (DATA_INGEST_GROUP_SIZE, default 500). */
export const INGEST_GROUP_SIZE = Number(process.env.DATA_INGEST_GROUP_SIZE ?? 500) || 500;

/**
 * One inbox consumer per source topic (`data.store.<source>`): its own consumer group, so each
 * source's lag is its own (`consumer_lag{consumer="data.store.payment"}`) and a slow source
 * does not hold up the others. Each applies up to DATA_INGEST_GROUP_SIZE events per transaction.
 */
abstract class SourceIngest implements EventSubscriber {
  protected constructor(
    private readonly source: string,
    private readonly ingest: IngestService,
  ) {}

  subscribe(_on: Subscribe, onGroup: SubscribeGroup): void {
    for (const spec of SOURCES[this.source] ?? []) {
      onGroup(spec.type, (client: PoolClient, events: readonly { event: unknown; ctx: EventContext }[]) =>
        this.ingest.applyGroup(
          client,
          this.source,
          spec,
          events.map(({ event, ctx }) => ({
            event,
            eventId: ctx.envelope.id,
            fallbackAt: new Date(ctx.envelope.time),
          })),
        ),
      );
    }
  }
}

@EventConsumer('data.store.payment', { groupSize: INGEST_GROUP_SIZE })
@Injectable()
export class PaymentIngest extends SourceIngest {
  constructor(ingest: IngestService) {
    super('payment', ingest);
  }
}

@EventConsumer('data.store.settlement', { groupSize: INGEST_GROUP_SIZE })
@Injectable()
export class SettlementIngest extends SourceIngest {
  constructor(ingest: IngestService) {
    super('settlement', ingest);
  }
}

@EventConsumer('data.store.points', { groupSize: INGEST_GROUP_SIZE })
@Injectable()
export class PointsIngest extends SourceIngest {
  constructor(ingest: IngestService) {
    super('points', ingest);
  }
}

@EventConsumer('data.store.marketing', { groupSize: INGEST_GROUP_SIZE })
@Injectable()
export class MarketingIngest extends SourceIngest {
  constructor(ingest: IngestService) {
    super('marketing', ingest);
  }
}

@EventConsumer('data.store.iot', { groupSize: INGEST_GROUP_SIZE })
@Injectable()
export class IotIngest extends SourceIngest {
  constructor(ingest: IngestService) {
    super('iot', ingest);
  }
}

/**
 * identity's operators and projects: the dimensions the dashboard names tenants by (and a
 * project's district, once a source carries it). Upserts: the newest event wins.
 */
@EventConsumer('data.store.identity', { groupSize: INGEST_GROUP_SIZE })
@Injectable()
export class IdentityIngest implements EventSubscriber {
  constructor(@Inject(SERVICE_CONFIG) readonly config: DataConfig) {}

  subscribe(on: Subscribe): void {
    on(IdentityEvents.OperatorCreated, async (client, e) => {
      await client.query(
        `INSERT INTO dim_operator (operator_id, name, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (operator_id) DO UPDATE SET name = EXCLUDED.name, updated_at = now()`,
        [e.operatorId, e.name, e.occurredAt ? fromTimestamp(e.occurredAt) : null],
      );
      await touchSource(client, 'identity', e.occurredAt ? fromTimestamp(e.occurredAt) : new Date());
    });
    on(IdentityEvents.ProjectCreated, async (client, e) => {
      await client.query(
        `INSERT INTO dim_project (project_id, operator_id, name, kind, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (project_id) DO UPDATE
           SET operator_id = EXCLUDED.operator_id, name = EXCLUDED.name, kind = EXCLUDED.kind, updated_at = now()`,
        [
          e.projectId,
          e.operatorId,
          e.name,
          enumName(ProjectKind, e.kind, 'PROJECT_KIND_'),
          e.occurredAt ? fromTimestamp(e.occurredAt) : null,
        ],
      );
      await touchSource(client, 'identity', e.occurredAt ? fromTimestamp(e.occurredAt) : new Date());
    });
  }
}

/** identity has no rollups: its freshness is kept here directly (few events, no contention). */
async function touchSource(client: PoolClient, source: string, at: Date): Promise<void> {
  await client.query(
    `INSERT INTO source_state AS s (source, facts, last_occurred_at, last_ingested_at) VALUES ($1, 1, $2, now())
     ON CONFLICT (source) DO UPDATE SET facts = s.facts + 1,
       last_occurred_at = GREATEST(s.last_occurred_at, EXCLUDED.last_occurred_at), last_ingested_at = now()`,
    [source, at],
  );
}
