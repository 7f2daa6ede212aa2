import { Inject, Injectable } from '@nestjs/common';
import {
  CitybaseClaims,
  inTenancy,
  Logger,
  LOGGER,
  Mutations,
  OUTBOX,
  Outbox,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { IotEvents } from '@citybase/contracts/events';
import {
  assertKindFitsDevice,
  CancelCommandInput,
  CommandKind,
  CommandPayload,
  CommandQuery,
  CommandReport,
  COMMANDS_PAGE,
  commandDeadline,
  decideReport,
  decideTimeout,
  isFinal,
  ListCommandsQuery,
  mayPublish,
  parseDeviceReport,
  SendCommandInput,
} from './commands.domain';
import { CommandsErrors } from './commands.errors';
import { commandToProto } from './commands.render';
import {
  CommandRow,
  countPublish,
  DeviceRef,
  dueForTimeout,
  findCommand,
  findDevice,
  insertCommand,
  listCommands,
  lockCommand,
  moveCommand,
  publishable,
} from './commands.store';
import { CommandTransport } from './commands.transport';

/** A SENT command is published again when it has not been accepted after this long. */
export const REPUBLISH_AFTER_MS = 3_000;

/**
 * Device commands (docs/iot.md "Commands"). A command is written QUEUED in the transaction of
 * whatever asked for it (SendCommand, a door opening, a paid parking exit), published after the
 * commit, and moved by the device's reports and the commands job, each step under the row's lock
 * through the one decision of commands.domain.ts. The final step emits CommandCompleted through
 * the outbox in the same transaction.
 */
@Injectable()
export class CommandsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly mutations: Mutations,
    private readonly transport: CommandTransport,
  ) {}

  // ---- RPCs ----

  async sendCommand(claims: CitybaseClaims, cmd: SendCommandInput): Promise<CommandRow> {
    const { result, replayed } = await this.mutations.runWithOutcome({
      method: 'CommandService.SendCommand',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: {
        load: async (client) => {
          const d = await findDevice(client, cmd.deviceId);
          return d && d.operator_id === cmd.operatorId && d.project_id === cmd.projectId ? d : undefined;
        },
        tenancy: (d) => ({ operatorId: d.operator_id, projectId: d.project_id }),
        notFound: () => CommandsErrors.deviceNotFound(cmd.deviceId),
      },
      execute: async (ctx) => {
        if (ctx.target.status !== 'active') throw CommandsErrors.deviceRevoked(cmd.deviceId);
        assertKindFitsDevice(cmd.kind, ctx.target.kind);
        return this.queue(ctx.client, {
          commandId: ctx.resourceId,
          operatorId: cmd.operatorId,
          projectId: cmd.projectId,
          deviceId: cmd.deviceId,
          kind: cmd.kind,
          args: cmd.args,
          reference: cmd.reference,
          ttlMs: cmd.ttlMs,
          createdBy: claims.sub,
        });
      },
      replay: async ({ client, resourceId }) => (await findCommand(client, resourceId))!,
    });
    if (!replayed || result.state === 'QUEUED') return this.publish(result);
    return result;
  }

  async getCommand(claims: CitybaseClaims, q: CommandQuery): Promise<CommandRow> {
    const row = await findCommand(this.pool, q.commandId);
    if (!row || row.operator_id !== q.operatorId || !inTenancy(claims, tenancyOf(row)))
      throw CommandsErrors.notFound(q.commandId);
    return row;
  }

  async listCommands(
    claims: CitybaseClaims,
    q: ListCommandsQuery,
  ): Promise<{ items: CommandRow[]; nextPageToken: string }> {
    const device = await findDevice(this.pool, q.deviceId);
    if (
      !device ||
      device.operator_id !== q.operatorId ||
      !inTenancy(claims, { operatorId: device.operator_id, projectId: device.project_id })
    )
      throw CommandsErrors.deviceNotFound(q.deviceId);
    const rows = await listCommands(this.pool, q);
    const { rows: items, nextPageToken } = pageOf(rows, q.size, COMMANDS_PAGE, (r) => [
      r.cursor_at,
      r.command_id,
    ]);
    return { items, nextPageToken };
  }

  cancelCommand(claims: CitybaseClaims, cmd: CancelCommandInput): Promise<CommandRow> {
    return this.mutations.run({
      method: 'CommandService.CancelCommand',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.commandId,
      target: {
        load: async (client) => {
          const row = await lockCommand(client, cmd.commandId);
          return row?.operator_id === cmd.operatorId ? row : undefined;
        },
        tenancy: (r: CommandRow) => tenancyOf(r),
        notFound: () => CommandsErrors.notFound(cmd.commandId),
      },
      execute: async ({ client, target }) => this.apply(client, target, { type: 'CANCEL' }, true),
      replay: async ({ client }) => (await findCommand(client, cmd.commandId))!,
    });
  }

  // ---- for the other rooms (door openings, parking exits), in their transaction ----

  /** A device as the rooms that command it need it (the registry's row), or undefined. */
  device(db: Pool | PoolClient, deviceId: string): Promise<DeviceRef | undefined> {
    return findDevice(db, deviceId);
  }

  /** Writes a QUEUED command in the caller's transaction; publish it after the commit. */
  async queue(
    client: PoolClient,
    c: {
      commandId: string;
      operatorId: string;
      projectId: string;
      deviceId: string;
      kind: CommandKind;
      args?: Record<string, string>;
      reference: string;
      ttlMs: number;
      createdBy: string;
    },
  ): Promise<CommandRow> {
    return insertCommand(client, {
      command_id: c.commandId,
      operator_id: c.operatorId,
      project_id: c.projectId,
      device_id: c.deviceId,
      kind: c.kind,
      args: c.args ?? {},
      reference: c.reference,
      deadline: commandDeadline(c.kind, c.ttlMs, new Date()),
      created_by: c.createdBy,
    });
  }

  /**
   * Publishes a command before its deadline (never after: a restart cannot send a late one) and
   * moves it to SENT. A broker that is down leaves it QUEUED for the job to try again.
   */
  async publish(row: CommandRow): Promise<CommandRow> {
    if (!mayPublish(view(row), new Date())) return row;
    const payload: CommandPayload = {
      command_id: row.command_id,
      kind: row.kind,
      deadline_ms: row.deadline.getTime(),
      args: row.args,
    };
    try {
      await this.transport.publish(row.project_id, row.device_id, payload);
    } catch (err) {
      this.logger.warn(
        { command_id: row.command_id, err: String(err) },
        'command not published; the job retries',
      );
      return row;
    }
    await countPublish(this.pool, row.command_id);
    return this.report(row.command_id, { type: 'PUBLISHED' }, undefined);
  }

  async publishById(commandId: string): Promise<CommandRow | undefined> {
    const row = await findCommand(this.pool, commandId);
    return row && this.publish(row);
  }

  // ---- the device's reports (commands/ack topic) ----

  async deviceReport(projectId: string, deviceId: string, body: unknown): Promise<void> {
    const parsed = parseDeviceReport(body);
    if (!parsed) {
      this.logger.warn({ device_id: deviceId, project_id: projectId }, 'unreadable command report dropped');
      return;
    }
    await this.report(parsed.commandId, parsed.report, { projectId, deviceId });
  }

  /**
   * Applies one report under the command's lock. A report from another device than the command's
   * (or for an unknown command) changes nothing: a device can only speak of its own commands.
   */
  async report(
    commandId: string,
    report: CommandReport,
    from: { projectId: string; deviceId: string } | undefined,
  ): Promise<CommandRow> {
    return withTransaction(this.pool, async (client) => {
      const row = await lockCommand(client, commandId);
      if (!row) throw CommandsErrors.notFound(commandId);
      if (from && (row.device_id !== from.deviceId || row.project_id !== from.projectId)) {
        this.logger.warn(
          { command_id: commandId, device_id: from.deviceId },
          'report from another device ignored',
        );
        return row;
      }
      return this.apply(client, row, report, false);
    });
  }

  private async apply(
    client: PoolClient,
    row: CommandRow,
    report: CommandReport,
    refuseAsError: boolean,
  ): Promise<CommandRow> {
    const d = decideReport(view(row), report);
    if (d.kind === 'REFUSE') {
      if (refuseAsError) throw CommandsErrors.refused(d.code, `command ${row.command_id}: ${d.message}`);
      return row;
    }
    if (d.kind === 'IGNORE') {
      if (d.reason === 'LATE_REPORT')
        this.logger.warn(
          { command_id: row.command_id, state: row.state, report: report.type },
          'late command report',
        );
      return row;
    }
    return this.move(client, row, d.to, d.detail);
  }

  private async move(client: PoolClient, row: CommandRow, to: CommandRow['state'], detail?: string) {
    const moved = await moveCommand(client, row.command_id, to, detail);
    if (isFinal(to)) {
      await this.outbox.enqueue(
        client,
        IotEvents.CommandCompleted,
        { command: commandToProto(moved), occurredAt: toTimestamp(new Date()) },
        { key: moved.device_id, subject: moved.command_id, tenancy: tenancyOf(moved) },
      );
    }
    this.logger.info({ command_id: row.command_id, from: row.state, to }, 'command moved');
    return moved;
  }

  // ---- the commands job ----

  /** Expires / times out open commands past their deadline; each under its lock. */
  async timeOutDue(limit: number): Promise<number> {
    const now = new Date();
    const due = await dueForTimeout(this.pool, now, limit);
    let moved = 0;
    for (const candidate of due) {
      await withTransaction(this.pool, async (client) => {
        const row = await lockCommand(client, candidate.command_id);
        if (!row) return;
        const to = decideTimeout(view(row), new Date());
        if (!to) return;
        await this.move(
          client,
          row,
          to,
          to === 'EXPIRED' ? 'deadline passed before the device accepted it' : 'no result in time',
        );
        moved++;
      });
    }
    return moved;
  }

  /** Publishes QUEUED commands (a crash between commit and publish) and SENT ones not yet accepted. */
  async republish(limit: number): Promise<number> {
    const now = Date.now();
    const rows = await publishable(this.pool, new Date(now), limit);
    for (const row of rows) {
      if (row.state === 'SENT' && row.sent_at && now - row.updated_at.getTime() < REPUBLISH_AFTER_MS)
        continue;
      if (row.state === 'QUEUED' && now - row.created_at.getTime() < 1_000) continue; // its caller publishes it
      await this.publishAgain(row);
    }
    return rows.length;
  }

  private async publishAgain(row: CommandRow): Promise<void> {
    const payload: CommandPayload = {
      command_id: row.command_id,
      kind: row.kind,
      deadline_ms: row.deadline.getTime(),
      args: row.args,
    };
    if (!mayPublish(view(row), new Date())) return;
    try {
      await this.transport.publish(row.project_id, row.device_id, payload);
    } catch {
      return;
    }
    await countPublish(this.pool, row.command_id);
    await this.pool.query(`UPDATE commands SET updated_at = clock_timestamp() WHERE command_id = $1`, [
      row.command_id,
    ]);
    if (row.state === 'QUEUED') await this.report(row.command_id, { type: 'PUBLISHED' }, undefined);
  }
}

const tenancyOf = (r: { operator_id: string; project_id: string }) => ({
  operatorId: r.operator_id,
  projectId: r.project_id,
});

const view = (r: CommandRow) => ({
  state: r.state,
  deadline: r.deadline,
  deliveredAt: r.delivered_at,
  kind: r.kind,
});
