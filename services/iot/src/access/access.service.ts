import { randomUUID } from 'crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  MutationContext,
  Mutations,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
} from '@citybase/platform';
import { AccessKind } from '@citybase/contracts/citybase/iot/v1/access';
import { IotEvents } from '@citybase/contracts/events';
import { CommandsService } from '../commands/commands.service';
import {
  BindDoorInput,
  courierCodeExpiry,
  courierCodeHash,
  decideCodeUse,
  grantOpening,
  IssueCodeInput,
  ListRecordsQuery,
  newCourierCode,
  OpenDoorInput,
  RECORDS_PAGE,
  UseCodeInput,
} from './access.domain';
import { AccessErrors } from './access.errors';
import { recordToProto } from './access.render';
import {
  DoorRow,
  findCode,
  findCourier,
  findDoor,
  findRecord,
  findUnit,
  grantsOf,
  householdOf,
  insertCode,
  insertRecord,
  listRecords,
  livesIn,
  lockCodeByHash,
  moveCode,
  recordExit,
  RecordRow,
  upsertDoor,
} from './access.store';

interface Opening {
  record: RecordRow;
  commandId: string;
}

/**
 * Doors and couriers (docs/iot.md "Doors and couriers"). An opening is decided from the local
 * projection of identity's grants and households (no call to identity on the door's path), then
 * the DOOR_OPEN command (TTL 10 s) and the access record are written in one transaction with
 * DoorOpened and AccessRecorded; the command is published after the commit.
 */
@Injectable()
export class AccessService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
    private readonly commands: CommandsService,
  ) {}

  async bindDoor(claims: CitybaseClaims, cmd: BindDoorInput): Promise<DoorRow> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    const d = await this.commands.device(this.pool, cmd.deviceId);
    if (
      !d ||
      d.operator_id !== cmd.operatorId ||
      d.project_id !== cmd.projectId ||
      d.kind !== 'door_controller'
    )
      throw AccessErrors.notADoor(cmd.deviceId);
    return this.mutations.run({
      method: 'AccessService.BindDoor',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.deviceId,
      execute: ({ client }) =>
        upsertDoor(client, {
          device_id: cmd.deviceId,
          operator_id: cmd.operatorId,
          project_id: cmd.projectId,
          building_id: cmd.buildingId,
          unit_id: cmd.unitId,
        }),
      replay: async ({ client }) => (await findDoor(client, cmd.deviceId))!,
    });
  }

  async openDoor(claims: CitybaseClaims, cmd: OpenDoorInput): Promise<RecordRow> {
    const opening = await this.mutations.run<OpenDoorInput, Opening, DoorRow>({
      method: 'AccessService.OpenDoor',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: this.doorTarget(cmd),
      execute: async ({ client, target, resourceId, emit, note }) => {
        const residents = await householdOf(client, cmd.residentId);
        const grant = grantOpening(
          { buildingId: target.building_id, unitId: target.unit_id },
          residents,
          await grantsOf(client, residents),
          new Date(),
        );
        if (!grant) throw AccessErrors.denied(cmd.residentId, cmd.deviceId);
        const opened = await this.open(client, target, claims.sub, `door-opening:${resourceId}`, {
          record_id: resourceId,
          kind: 'RESIDENT',
          resident_id: cmd.residentId,
          grant_id: grant.grantId,
          courier_id: '',
          unit_id: target.unit_id ?? '',
          merchant_id: '',
        });
        await this.emitOpening(emit, target, opened, AccessKind.ACCESS_KIND_RESIDENT);
        note({ door: cmd.deviceId, grant_id: grant.grantId });
        return opened;
      },
      replay: async ({ client, resourceId }) => {
        const record = (await findRecord(client, resourceId))!;
        return { record, commandId: record.command_id };
      },
    });
    await this.commands.publishById(opening.commandId);
    return opening.record;
  }

  async issueCourierCode(
    claims: CitybaseClaims,
    cmd: IssueCodeInput,
  ): Promise<{ codeId: string; code: string; expiresAt: Date }> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    const now = new Date();
    const expiresAt = courierCodeExpiry(cmd.ttlSeconds, now);
    let shown = '';
    const row = await this.mutations.run({
      method: 'AccessService.IssueCourierCode',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async ({ client, resourceId, emit }) => {
        const courier = await findCourier(client, cmd.courierId);
        if (courier?.project_id !== cmd.projectId) throw AccessErrors.courierUnknown(cmd.courierId);
        const unit = await findUnit(client, cmd.unitId);
        if (unit?.project_id !== cmd.projectId) throw AccessErrors.unitUnknown(cmd.unitId);
        if (cmd.residentId && !(await livesIn(client, cmd.residentId, cmd.unitId)))
          throw AccessErrors.notResidentOfUnit(cmd.residentId, cmd.unitId);
        // a fresh code until one is free in the project (a million codes; live ones are few)
        for (;;) {
          shown = newCourierCode();
          const inserted = await insertCode(client, {
            code_id: resourceId,
            operator_id: cmd.operatorId,
            project_id: cmd.projectId,
            courier_id: cmd.courierId,
            unit_id: cmd.unitId,
            building_id: unit.building_id,
            resident_id: cmd.residentId,
            merchant_id: cmd.merchantId,
            code_hash: courierCodeHash(cmd.projectId, shown),
            expires_at: expiresAt,
          });
          if (inserted) break;
        }
        await emit(
          IotEvents.CourierCodeIssued,
          {
            codeId: resourceId,
            tenancy: { operatorId: cmd.operatorId, projectId: cmd.projectId, merchantId: cmd.merchantId },
            courierId: cmd.courierId,
            unitId: cmd.unitId,
            buildingId: unit.building_id,
            residentId: cmd.residentId,
            expiresAt: toTimestamp(expiresAt),
            occurredAt: toTimestamp(now),
          },
          {
            key: resourceId,
            subject: resourceId,
            tenancy: { operatorId: cmd.operatorId, projectId: cmd.projectId },
          },
        );
        return (await findCode(client, resourceId))!;
      },
      // the code is shown once: a retry answers the code's id without it
      replay: async ({ client, resourceId }) => {
        shown = '';
        return (await findCode(client, resourceId))!;
      },
    });
    return { codeId: row.code_id, code: shown, expiresAt: row.expires_at };
  }

  async useCourierCode(claims: CitybaseClaims, cmd: UseCodeInput): Promise<RecordRow> {
    const opening = await this.mutations.run<UseCodeInput, Opening, DoorRow>({
      method: 'AccessService.UseCourierCode',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: this.doorTarget(cmd),
      execute: async ({ client, target, resourceId, emit }) => {
        if (!target.building_id) throw AccessErrors.notAnEntrance(cmd.deviceId);
        const code = await lockCodeByHash(client, cmd.projectId, courierCodeHash(cmd.projectId, cmd.code));
        if (!code) throw AccessErrors.codeRefused('CODE_INVALID', 'no such code');
        const now = new Date();
        const d = decideCodeUse(
          code.state,
          code.expires_at,
          code.building_id,
          { buildingId: target.building_id, unitId: target.unit_id },
          now,
        );
        if (d.kind === 'REFUSE') throw AccessErrors.codeRefused(d.code, d.message);
        let opened: Opening;
        if (d.use === 'ENTRY') {
          opened = await this.open(client, target, claims.sub, `courier-code:${code.code_id}:entry`, {
            record_id: resourceId,
            kind: 'COURIER',
            resident_id: code.resident_id,
            grant_id: '',
            courier_id: code.courier_id,
            unit_id: code.unit_id,
            merchant_id: code.merchant_id,
          });
        } else {
          const command = await this.queueOpen(
            client,
            target,
            claims.sub,
            `courier-code:${code.code_id}:exit`,
          );
          opened = { record: await recordExit(client, code.record_id!, now, command), commandId: command };
        }
        await moveCode(client, code.code_id, d.next, opened.record.record_id);
        await this.emitOpening(emit, target, opened, AccessKind.ACCESS_KIND_COURIER);
        return opened;
      },
      replay: async ({ client, resourceId }) => {
        const record = (await findRecord(client, resourceId))!;
        return { record, commandId: record.command_id };
      },
    });
    await this.commands.publishById(opening.commandId);
    return opening.record;
  }

  async listRecords(
    claims: CitybaseClaims,
    q: ListRecordsQuery,
  ): Promise<{ items: RecordRow[]; nextPageToken: string }> {
    assertTenancy(claims, { operatorId: q.operatorId, projectId: q.projectId });
    const rows = await listRecords(this.pool, q);
    const { rows: items, nextPageToken } = pageOf(rows, q.size, RECORDS_PAGE, (r) => [
      r.cursor_at,
      r.record_id,
    ]);
    return { items, nextPageToken };
  }

  private doorTarget(cmd: { operatorId: string; projectId: string; deviceId: string }) {
    return {
      load: async (client: PoolClient) => {
        const door = await findDoor(client, cmd.deviceId);
        return door?.operator_id === cmd.operatorId && door.project_id === cmd.projectId ? door : undefined;
      },
      tenancy: (d: DoorRow) => ({ operatorId: d.operator_id, projectId: d.project_id }),
      notFound: () => AccessErrors.doorNotFound(cmd.deviceId),
    };
  }

  private async queueOpen(
    client: PoolClient,
    door: DoorRow,
    caller: string,
    reference: string,
  ): Promise<string> {
    const command = await this.commands.queue(client, {
      commandId: randomUUID(),
      operatorId: door.operator_id,
      projectId: door.project_id,
      deviceId: door.device_id,
      kind: 'DOOR_OPEN',
      reference,
      ttlMs: 0,
      createdBy: caller,
    });
    return command.command_id;
  }

  private async open(
    client: PoolClient,
    door: DoorRow,
    caller: string,
    reference: string,
    r: Pick<
      RecordRow,
      'record_id' | 'kind' | 'resident_id' | 'grant_id' | 'courier_id' | 'unit_id' | 'merchant_id'
    >,
  ): Promise<Opening> {
    const commandId = await this.queueOpen(client, door, caller, reference);
    const record = await insertRecord(client, {
      ...r,
      operator_id: door.operator_id,
      project_id: door.project_id,
      door_device_id: door.device_id,
      entered_at: new Date(),
      command_id: commandId,
    });
    return { record, commandId };
  }

  private async emitOpening(
    emit: MutationContext<DoorRow>['emit'],
    door: DoorRow,
    o: Opening,
    kind: AccessKind,
  ): Promise<void> {
    const now = toTimestamp(new Date());
    const opts = {
      key: door.device_id,
      subject: o.record.record_id,
      tenancy: { operatorId: door.operator_id, projectId: door.project_id },
    };
    await emit(
      IotEvents.DoorOpened,
      {
        doorDeviceId: door.device_id,
        tenancy: { operatorId: door.operator_id, projectId: door.project_id, merchantId: '' },
        commandId: o.commandId,
        kind,
        recordId: o.record.record_id,
        occurredAt: now,
      },
      opts,
    );
    await emit(IotEvents.AccessRecorded, { record: recordToProto(o.record), occurredAt: now }, opts);
  }
}
