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
import { IdentityEvents, IotEvents } from '@citybase/contracts/events';
import { ProjectKind } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import type { DataConfig } from '../config';
import { enumName, SOURCES } from './store.facts';
import { IngestService } from './store.ingest';

/** Events applied per transaction by every ingest consumer (DATA_INGEST_GROUP_SIZE, default 500). */
export const INGEST_GROUP_SIZE = Number(process.env.DATA_INGEST_GROUP_SIZE ?? 500) || 500;
/** Telemetry messages applied per transaction (DATA_TELEMETRY_GROUP_SIZE, default 2,000): bulk, aggregated. */
export const TELEMETRY_GROUP_SIZE = Number(process.env.DATA_TELEMETRY_GROUP_SIZE ?? 2_000) || 2_000;

/** A device's projection in dim_device (registration, revocation, versioned presence). */
interface DeviceChange {
  deviceId: string;
  operatorId: string;
  projectId: string;
  kind?: string;
  revoked?: boolean;
  presence?: { online: boolean; version: bigint };
  at: Date;
}

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
      onGroup(
        spec.type,
        async (client: PoolClient, events: readonly { event: unknown; ctx: EventContext }[]) => {
          await this.ingest.applyGroup(
            client,
            this.source,
            spec,
            events.map(({ event, ctx }) => ({
              event,
              eventId: ctx.envelope.id,
              fallbackAt: new Date(ctx.envelope.time),
            })),
          );
          await this.project(client, spec.type.type, events);
        },
      );
    }
  }

  /** What a source keeps besides facts and rollups (in the same transaction); nothing by default. */
  protected project(
    _client: PoolClient,
    _type: string,
    _events: readonly { event: unknown; ctx: EventContext }[],
  ): Promise<void> {
    return Promise.resolve();
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

  /** Registrations, revocations and presence keep dim_device: the device online rate. */
  protected override async project(
    client: PoolClient,
    type: string,
    events: readonly { event: unknown; ctx: EventContext }[],
  ): Promise<void> {
    const changes: DeviceChange[] = [];
    const when = (ts: Parameters<typeof fromTimestamp>[0] | undefined, ctx: EventContext) =>
      ts ? fromTimestamp(ts) : new Date(ctx.envelope.time);
    for (const { event, ctx } of events) {
      if (type === IotEvents.DeviceRegistered.type) {
        const e = event as ReturnType<typeof IotEvents.DeviceRegistered.codec.decode>;
        changes.push({
          deviceId: e.deviceId,
          operatorId: e.tenancy?.operatorId ?? '',
          projectId: e.tenancy?.projectId ?? '',
          kind: enumName(DeviceKind, e.kind, 'DEVICE_KIND_'),
          at: when(e.occurredAt, ctx),
        });
      } else if (type === IotEvents.DeviceRevoked.type) {
        const e = event as ReturnType<typeof IotEvents.DeviceRevoked.codec.decode>;
        changes.push({
          deviceId: e.deviceId,
          operatorId: e.tenancy?.operatorId ?? '',
          projectId: e.tenancy?.projectId ?? '',
          revoked: true,
          at: when(e.occurredAt, ctx),
        });
      } else if (type === IotEvents.PresenceChanged.type) {
        const e = event as ReturnType<typeof IotEvents.PresenceChanged.codec.decode>;
        changes.push({
          deviceId: e.deviceId,
          operatorId: e.tenancy?.operatorId ?? '',
          projectId: e.tenancy?.projectId ?? '',
          presence: { online: e.online, version: BigInt(e.version) },
          at: when(e.occurredAt, ctx),
        });
      }
    }
    // one statement per change, in event order (a group is one device's events or few of them)
    for (const c of changes)
      await client.query(
        `INSERT INTO dim_device AS d (device_id, operator_id, project_id, kind, revoked, online, presence_version, last_occurred_at)
         VALUES ($1, $2, $3, coalesce($4::text, ''), coalesce($5::boolean, false), coalesce($6::boolean, false), coalesce($7::bigint, 0), $8)
         ON CONFLICT (device_id) DO UPDATE SET
           operator_id = CASE WHEN EXCLUDED.operator_id <> '' THEN EXCLUDED.operator_id ELSE d.operator_id END,
           project_id = CASE WHEN EXCLUDED.project_id <> '' THEN EXCLUDED.project_id ELSE d.project_id END,
           kind = coalesce($4, d.kind),
           revoked = d.revoked OR coalesce($5, false),
           online = CASE WHEN $7::bigint > d.presence_version THEN $6 ELSE d.online END,
           presence_version = GREATEST(d.presence_version, coalesce($7::bigint, 0)),
           last_occurred_at = GREATEST(d.last_occurred_at, EXCLUDED.last_occurred_at),
           updated_at = now()`,
        [
          c.deviceId,
          c.operatorId,
          c.projectId,
          c.kind ?? null,
          c.revoked ?? null,
          c.presence?.online ?? null,
          c.presence ? c.presence.version.toString() : null,
          c.at,
        ],
      );
  }
}

/**
 * iot's bulk telemetry (citybase.iot.telemetry.v1), its own consumer group so its volume never
 * delays the business facts: large groups, aggregated per device and hour before they are written
 * (IngestService.applyTelemetry).
 */
@EventConsumer('data.store.telemetry', { groupSize: TELEMETRY_GROUP_SIZE })
@Injectable()
export class TelemetryIngest implements EventSubscriber {
  constructor(private readonly ingest: IngestService) {}

  subscribe(_on: Subscribe, onGroup: SubscribeGroup): void {
    onGroup(IotEvents.TelemetryReported, (client, events) =>
      this.ingest.applyTelemetry(
        client,
        events.map(({ event: t, ctx }) => ({
          deviceId: t.deviceId,
          operatorId: t.tenancy?.operatorId ?? '',
          projectId: t.tenancy?.projectId ?? '',
          readings: t.readings.length,
          occurredAt: t.occurredAt ? fromTimestamp(t.occurredAt) : undefined,
          receivedAt: t.receivedAt ? fromTimestamp(t.receivedAt) : new Date(ctx.envelope.time),
        })),
      ),
    );
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
