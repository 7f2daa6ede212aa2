import type { Metadata } from '@grpc/grpc-js';
import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import {
  claimsOf,
  fromTimestamp,
  keyPart,
  optionalString,
  pageCursor,
  pageOf,
  parsePage,
  PG_POOL,
  Pool,
  requiredUuid,
  toTimestamp,
} from '@citybase/platform';
import {
  GetDeviceStateRequest,
  GetDeviceStateResponse,
  ListTelemetryRequest,
  ListTelemetryResponse,
} from '@citybase/contracts/citybase/iot/v1/iot';
import { deviceToProto } from '../devices/devices.render';
import { DevicesService } from '../devices/devices.service';

/** Page tokens of ListTelemetry: oldest first, by (measured_at, message id, metric). */
const TELEMETRY_PAGE = pageCursor(
  'iot.telemetry',
  keyPart.timestamp,
  keyPart.text(/^[A-Za-z0-9._:-]+$/, 128),
  keyPart.text(/^[a-z][a-z0-9_]*$/, 64),
);
const DAY_MS = 86_400_000;

/** Reads of latest state and history (docs/iot.md "State and history"). */
@Controller()
export class HistoryGrpc {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly devices: DevicesService,
  ) {}

  @GrpcMethod('IotService', 'getDeviceState')
  async getDeviceState(req: GetDeviceStateRequest, metadata: Metadata): Promise<GetDeviceStateResponse> {
    const deviceId = requiredUuid('device_id', req.deviceId);
    const device = await this.devices.getDevice(claimsOf(metadata), deviceId);
    const { rows } = await this.pool.query<{ metric: string; value: number; measured_at: Date }>(
      'SELECT metric, value, measured_at FROM device_state WHERE device_id = $1 ORDER BY metric',
      [deviceId],
    );
    const presence = await this.pool.query<{ version: string }>(
      'SELECT version FROM device_presence WHERE device_id = $1',
      [deviceId],
    );
    return {
      device: deviceToProto(device),
      metrics: rows.map((r) => ({
        metric: r.metric,
        value: r.value,
        measuredAt: toTimestamp(r.measured_at),
      })),
      presenceVersion: BigInt(presence.rows[0]?.version ?? 0),
    };
  }

  @GrpcMethod('IotService', 'listTelemetry')
  async listTelemetry(req: ListTelemetryRequest, metadata: Metadata): Promise<ListTelemetryResponse> {
    const deviceId = requiredUuid('device_id', req.deviceId);
    const metric = optionalString('metric', req.metric, { max: 64 });
    const { size, after } = parsePage(req.page, TELEMETRY_PAGE);
    await this.devices.getDevice(claimsOf(metadata), deviceId);
    const to = req.to ? fromTimestamp(req.to) : new Date();
    const from = req.from ? fromTimestamp(req.from) : new Date(to.getTime() - DAY_MS);
    const { rows } = await this.pool.query<{
      metric: string;
      value: number;
      measured_at: Date;
      message_id: string;
      at: string;
    }>(
      `SELECT r.key AS metric, r.value::float8 AS value, h.measured_at, h.message_id,
              to_char(h.measured_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at
         FROM telemetry_history h, jsonb_each_text(h.readings) AS r
        WHERE h.device_id = $1 AND h.measured_at >= $2 AND h.measured_at < $3 AND ($4 = '' OR r.key = $4)
          AND ($5::timestamptz IS NULL OR (h.measured_at, h.message_id, r.key) > ($5::timestamptz, $6, $7))
        ORDER BY h.measured_at, h.message_id, r.key
        LIMIT $8`,
      [deviceId, from, to, metric, after?.[0] ?? null, after?.[1] ?? null, after?.[2] ?? null, size + 1],
    );
    const { rows: items, nextPageToken } = pageOf(rows, size, TELEMETRY_PAGE, (r) => [
      r.at,
      r.message_id,
      r.metric,
    ]);
    return {
      points: items.map((r) => ({
        metric: r.metric,
        value: r.value,
        measuredAt: toTimestamp(r.measured_at),
      })),
      page: { nextPageToken },
    };
  }
}
