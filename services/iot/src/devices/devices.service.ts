import { randomBytes } from 'crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  inTenancy,
  Mutations,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  tenancyFilter,
  toTimestamp,
} from '@citybase/platform';
import { IotEvents } from '@citybase/contracts/events';
import type { DeviceCredentials } from '@citybase/contracts/citybase/iot/v1/iot';
import type { IotConfig } from '../config';
import { deviceAcls, IotDynsec, IotTopics } from '../mqtt';
import {
  assertActive,
  DeviceMutationCommand,
  DEVICES_PAGE,
  kindProto,
  ListDevicesQuery,
  RegisterDeviceCommand,
} from './devices.domain';
import { DevicesErrors } from './devices.errors';
import { deviceTenancy } from './devices.render';
import {
  bumpCredentials,
  DeviceRow,
  findDevice,
  insertDevice,
  listDevices,
  lockDevice,
  markRevoked,
} from './devices.store';

/** The broker role of a device (its client is named by the device id). */
export const deviceRole = (deviceId: string) => `device-${deviceId}`;

/** What a registration or rotation answers: the device, and its password unless it is a repeat. */
export interface DeviceWithCredentials {
  device: DeviceRow;
  credentials: DeviceCredentials;
}

/**
 * The registry (docs/iot.md "Registry and credentials"). A device's broker client, role and ACL
 * are made through the dynamic-security API inside the registration's transaction (a broker that
 * refuses rolls the registration back); rotation sets a new password and disconnects the device;
 * revocation deletes its client and role, which disconnects it, and its next connect is refused.
 * Another tenant's device answers NOT_FOUND exactly like a missing one.
 */
@Injectable()
export class DevicesService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(SERVICE_CONFIG) private readonly config: IotConfig,
    private readonly mutations: Mutations,
    private readonly dynsec: IotDynsec,
    private readonly topics: IotTopics,
  ) {}

  async registerDevice(claims: CitybaseClaims, cmd: RegisterDeviceCommand): Promise<DeviceWithCredentials> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    let password = '';
    const device = await this.mutations.run({
      method: 'IotService.RegisterDevice',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async ({ client, resourceId, emit, note }) => {
        const row = await insertDevice(client, {
          device_id: resourceId,
          operator_id: cmd.operatorId,
          project_id: cmd.projectId,
          kind: cmd.kind,
          profile: cmd.profile,
          name: cmd.name,
          serial_number: cmd.serialNumber,
          created_by: claims.sub,
        });
        if (!row) throw DevicesErrors.serialTaken(cmd.serialNumber);
        password = newPassword();
        await this.provision(row, password);
        note({ device_id: row.device_id, kind: row.kind, profile: row.profile });
        await emit(
          IotEvents.DeviceRegistered,
          {
            deviceId: row.device_id,
            tenancy: { ...deviceTenancy(row), merchantId: '' },
            kind: kindProto(row.kind),
            serialNumber: row.serial_number,
            profile: row.profile,
            occurredAt: toTimestamp(row.created_at),
          },
          { key: row.device_id, tenancy: deviceTenancy(row) },
        );
        return row;
      },
      replay: ({ client, resourceId }) => this.current(client, resourceId),
    });
    return { device, credentials: this.credentialsOf(device, password) };
  }

  async rotateCredentials(
    claims: CitybaseClaims,
    cmd: DeviceMutationCommand,
  ): Promise<DeviceWithCredentials> {
    let password = '';
    const device = await this.mutations.run({
      method: 'IotService.RotateDeviceCredentials',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.deviceId,
      target: this.target(cmd.deviceId),
      execute: async ({ client, target, emit }) => {
        assertActive({ deviceId: target.device_id, status: target.status }, 'rotated');
        const row = await bumpCredentials(client, target.device_id);
        password = newPassword();
        await this.provision(row, password);
        // a client connected with the old password is disconnected (disable kicks it)
        await this.dynsec.run([
          { command: 'disableClient', username: row.device_id },
          { command: 'enableClient', username: row.device_id },
        ]);
        await emit(
          IotEvents.DeviceCredentialsRotated,
          {
            deviceId: row.device_id,
            tenancy: { ...deviceTenancy(row), merchantId: '' },
            credentialsVersion: row.credentials_version,
            occurredAt: toTimestamp(row.updated_at),
          },
          { key: row.device_id, tenancy: deviceTenancy(row) },
        );
        return row;
      },
      replay: ({ client }) => this.current(client, cmd.deviceId),
    });
    return { device, credentials: this.credentialsOf(device, password) };
  }

  revokeDevice(claims: CitybaseClaims, cmd: DeviceMutationCommand): Promise<DeviceRow> {
    return this.mutations.run({
      method: 'IotService.RevokeDevice',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.deviceId,
      target: this.target(cmd.deviceId),
      execute: async ({ client, target, emit, note }) => {
        assertActive({ deviceId: target.device_id, status: target.status }, 'revoked');
        const row = await markRevoked(client, target.device_id, cmd.reason);
        // deleting the client disconnects it; its next connect is refused (no such client)
        await this.dynsec.deleteClient(row.device_id, deviceRole(row.device_id));
        note({ device_id: row.device_id });
        await emit(
          IotEvents.DeviceRevoked,
          {
            deviceId: row.device_id,
            tenancy: { ...deviceTenancy(row), merchantId: '' },
            reason: cmd.reason,
            occurredAt: toTimestamp(row.updated_at),
          },
          { key: row.device_id, tenancy: deviceTenancy(row) },
        );
        return row;
      },
      replay: ({ client }) => this.current(client, cmd.deviceId),
    });
  }

  async getDevice(claims: CitybaseClaims, deviceId: string): Promise<DeviceRow> {
    const row = await findDevice(this.pool, deviceId);
    if (!row || !inTenancy(claims, deviceTenancy(row))) throw DevicesErrors.notFound(deviceId);
    return row;
  }

  async listDevices(
    claims: CitybaseClaims,
    q: ListDevicesQuery,
  ): Promise<{ items: DeviceRow[]; nextPageToken: string }> {
    assertTenancy(claims, { operatorId: q.operatorId, ...(q.projectId && { projectId: q.projectId }) });
    const rows = await listDevices(this.pool, q, tenancyFilter(claims));
    const { rows: items, nextPageToken } = pageOf(rows, q.size, DEVICES_PAGE, (r) => [
      r.cursor_at,
      r.device_id,
    ]);
    return { items, nextPageToken };
  }

  /** Makes or updates the device's broker client, role and ACL (repeatable). */
  private async provision(row: DeviceRow, password: string): Promise<void> {
    await this.dynsec.upsertClient({
      username: row.device_id,
      clientId: row.device_id,
      password,
      role: deviceRole(row.device_id),
      acls: deviceAcls(this.topics, row.project_id, row.device_id),
    });
  }

  private credentialsOf(row: DeviceRow, password: string): DeviceCredentials {
    return {
      mqttUrl: this.config.IOT_MQTT_PUBLIC_URL || this.config.IOT_MQTT_URL,
      username: row.device_id,
      clientId: row.device_id,
      password,
      topicPrefix: this.topics.devicePrefix(row.project_id, row.device_id),
    };
  }

  private target(deviceId: string) {
    return {
      load: (client: PoolClient) => lockDevice(client, deviceId),
      tenancy: (row: DeviceRow) => deviceTenancy(row),
      notFound: () => DevicesErrors.notFound(deviceId),
    };
  }

  private async current(client: PoolClient, deviceId: string): Promise<DeviceRow> {
    const row = await findDevice(client, deviceId);
    if (!row) throw new Error(`device ${deviceId} of a committed request is missing`);
    return row;
  }
}

/** A device password: 32 random bytes, base64url. */
function newPassword(): string {
  return randomBytes(32).toString('base64url');
}
