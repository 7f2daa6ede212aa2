import {
  DomainError,
  keyPart,
  optionalString,
  pageCursor,
  PageRequestLike,
  parsePage,
  requestId,
  requiredEnum,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import {
  CommandKind as ProtoKind,
  CommandState as ProtoState,
} from '@citybase/contracts/citybase/iot/v1/commands';

/**
 * Pure rules of device commands (docs/iot.md "Commands"): a command is a persistent state machine
 *
 *   QUEUED > SENT > DELIVERED > SUCCEEDED | FAILED
 *   QUEUED | SENT > EXPIRED        (deadline passed before the device accepted it, or the device
 *                                   refused it as late: it was never executed)
 *   DELIVERED > TIMED_OUT          (accepted, but no result within the kind's result window)
 *   QUEUED > CANCELLED             (cancelled before it was published)
 *
 * Every command carries its deadline to the device (`deadline_ms` in the payload); the device
 * refuses one that arrives after it. Each command reaches exactly one final state: a report
 * after the final state is recorded as late and changes nothing.
 */

export type CommandKind =
  'DOOR_OPEN' | 'GATE_OPEN' | 'GATE_CLOSE' | 'CHARGER_START' | 'CHARGER_STOP' | 'REBOOT';
export type CommandState =
  'QUEUED' | 'SENT' | 'DELIVERED' | 'SUCCEEDED' | 'FAILED' | 'EXPIRED' | 'TIMED_OUT' | 'CANCELLED';

export const FINAL_STATES: ReadonlySet<CommandState> = new Set([
  'SUCCEEDED',
  'FAILED',
  'EXPIRED',
  'TIMED_OUT',
  'CANCELLED',
]);

export const isFinal = (s: CommandState): boolean => FINAL_STATES.has(s);

/**
 * Per kind: the longest (and default) time to live, and how long a delivered command may take to
 * report its result. A door left to open 10 s after the tap is a door opened for someone else.
 */
export const KIND_RULES: Record<CommandKind, { maxTtlMs: number; resultWindowMs: number }> = {
  DOOR_OPEN: { maxTtlMs: 10_000, resultWindowMs: 10_000 },
  GATE_OPEN: { maxTtlMs: 30_000, resultWindowMs: 20_000 },
  GATE_CLOSE: { maxTtlMs: 30_000, resultWindowMs: 20_000 },
  CHARGER_START: { maxTtlMs: 60_000, resultWindowMs: 30_000 },
  CHARGER_STOP: { maxTtlMs: 60_000, resultWindowMs: 30_000 },
  REBOOT: { maxTtlMs: 120_000, resultWindowMs: 120_000 },
};

/**
 * Grace after the deadline before the expiry job gives up on a SENT command: a device's "accepted"
 * sent just before the deadline may still be in flight. The device itself never starts a command
 * after the deadline, so the grace never lets a late command run.
 */
export const EXPIRY_GRACE_MS = 2_000;

/** The deadline of a command created at `now` asking for `ttlMs` (0: the kind's maximum). */
export function commandDeadline(kind: CommandKind, ttlMs: number, now: Date): Date {
  const { maxTtlMs } = KIND_RULES[kind];
  if (!Number.isInteger(ttlMs) || ttlMs < 0 || ttlMs > maxTtlMs)
    throw DomainError.invalid('ttl_seconds', `must be from 0 to ${maxTtlMs / 1000} for ${kind}`);
  return new Date(now.getTime() + (ttlMs === 0 ? maxTtlMs : ttlMs));
}

/** What a device (or iot itself) reports about a command. */
export type CommandReport =
  | { type: 'PUBLISHED' }
  /** The device accepted the command before its deadline and is executing it. */
  | { type: 'ACCEPTED' }
  | { type: 'RESULT'; ok: boolean; detail?: string }
  /** The device refused it: late (deadline passed on arrival), or a reason of its own. */
  | { type: 'REFUSED'; late: boolean; detail?: string }
  | { type: 'CANCEL' };

export interface CommandView {
  state: CommandState;
  deadline: Date;
  /** When the device accepted it (DELIVERED), for the result window. */
  deliveredAt: Date | null;
  kind: CommandKind;
}

export type CommandDecision =
  | { kind: 'MOVE'; to: CommandState; detail?: string }
  /** Already in (or past) that state: a duplicate report, acknowledged and ignored. */
  | { kind: 'IGNORE'; reason: 'DUPLICATE' | 'LATE_REPORT' }
  | { kind: 'REFUSE'; code: 'COMMAND_FINAL' | 'COMMAND_NOT_CANCELLABLE'; message: string };

/**
 * The one decision of the state machine for a report. Out-of-order reports are accepted (a result
 * before the "accepted" ack means it was delivered); reports after a final state change nothing.
 */
export function decideReport(cmd: CommandView, report: CommandReport): CommandDecision {
  const s = cmd.state;
  switch (report.type) {
    case 'CANCEL':
      if (s === 'QUEUED') return { kind: 'MOVE', to: 'CANCELLED' };
      if (s === 'CANCELLED') return { kind: 'IGNORE', reason: 'DUPLICATE' };
      if (isFinal(s)) return { kind: 'REFUSE', code: 'COMMAND_FINAL', message: `command already ended ${s}` };
      return {
        kind: 'REFUSE',
        code: 'COMMAND_NOT_CANCELLABLE',
        message: `command is ${s}: the device may already execute it; it ends by itself by its deadline`,
      };
    case 'PUBLISHED':
      if (s === 'QUEUED') return { kind: 'MOVE', to: 'SENT' };
      return { kind: 'IGNORE', reason: isFinal(s) ? 'LATE_REPORT' : 'DUPLICATE' };
    case 'ACCEPTED':
      if (s === 'QUEUED' || s === 'SENT') return { kind: 'MOVE', to: 'DELIVERED' };
      return { kind: 'IGNORE', reason: isFinal(s) ? 'LATE_REPORT' : 'DUPLICATE' };
    case 'RESULT':
      if (s === 'QUEUED' || s === 'SENT' || s === 'DELIVERED')
        return { kind: 'MOVE', to: report.ok ? 'SUCCEEDED' : 'FAILED', detail: report.detail };
      return {
        kind: 'IGNORE',
        reason: s === (report.ok ? 'SUCCEEDED' : 'FAILED') ? 'DUPLICATE' : 'LATE_REPORT',
      };
    case 'REFUSED':
      if (s === 'QUEUED' || s === 'SENT' || s === 'DELIVERED')
        return { kind: 'MOVE', to: report.late ? 'EXPIRED' : 'FAILED', detail: report.detail };
      return { kind: 'IGNORE', reason: 'LATE_REPORT' };
  }
}

/**
 * What the expiry job does to a command at `now`: a QUEUED or SENT command past its deadline
 * (SENT: plus the grace) is EXPIRED, a DELIVERED one past its result window TIMED_OUT.
 */
export function decideTimeout(cmd: CommandView, now: Date): CommandState | undefined {
  const t = now.getTime();
  const deadline = cmd.deadline.getTime();
  if (cmd.state === 'QUEUED' && t >= deadline) return 'EXPIRED';
  if (cmd.state === 'SENT' && t >= deadline + EXPIRY_GRACE_MS) return 'EXPIRED';
  if (cmd.state === 'DELIVERED') {
    const from = Math.max(deadline, cmd.deliveredAt?.getTime() ?? deadline);
    if (t >= from + KIND_RULES[cmd.kind].resultWindowMs) return 'TIMED_OUT';
  }
  return undefined;
}

/**
 * Whether iot may (re)publish a command now: QUEUED or SENT before its deadline. Republishing
 * after a restart is safe: the device executes a command id once.
 */
export function mayPublish(cmd: CommandView, now: Date): boolean {
  return (cmd.state === 'QUEUED' || cmd.state === 'SENT') && now.getTime() < cmd.deadline.getTime();
}

/** The payload published to the device's command topic. */
export interface CommandPayload {
  command_id: string;
  kind: CommandKind;
  /** Epoch milliseconds: the device refuses the command when it arrives at or after it. */
  deadline_ms: number;
  args: Record<string, string>;
}

/** The device-side rule, shared with tools/device-sim: execute only before the deadline. */
export function deviceAccepts(payload: Pick<CommandPayload, 'deadline_ms'>, deviceNowMs: number): boolean {
  return deviceNowMs < payload.deadline_ms;
}

/** Which kinds a device kind takes. */
export const KINDS_BY_DEVICE: Record<string, readonly CommandKind[]> = {
  door_controller: ['DOOR_OPEN', 'REBOOT'],
  parking_gate: ['GATE_OPEN', 'GATE_CLOSE', 'REBOOT'],
  ev_charger: ['CHARGER_START', 'CHARGER_STOP', 'REBOOT'],
};

export function assertKindFitsDevice(kind: CommandKind, deviceKind: string): void {
  const kinds = KINDS_BY_DEVICE[deviceKind] ?? ['REBOOT'];
  if (!kinds.includes(kind))
    throw DomainError.invalid('kind', `a ${deviceKind} takes only ${kinds.join(', ')}`);
}

// ---- requests ----

interface TenancyInput {
  operatorId?: string;
  projectId?: string;
}

export const kindOfProto = (k: ProtoKind): CommandKind =>
  ProtoKind[k].replace(/^COMMAND_KIND_/, '') as CommandKind;
export const kindToProto = (k: CommandKind): ProtoKind => ProtoKind[`COMMAND_KIND_${k}`];
export const stateToProto = (s: CommandState): ProtoState => ProtoState[`COMMAND_STATE_${s}`];

export const ARGS_LIMITS = { entries: 16, key: 64, value: 256 } as const;

export interface SendCommandInput {
  requestId: string;
  operatorId: string;
  projectId: string;
  deviceId: string;
  kind: CommandKind;
  args: Record<string, string>;
  reference: string;
  ttlMs: number;
}

export function toSendCommand(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  deviceId?: string;
  kind?: ProtoKind;
  args?: Record<string, string>;
  reference?: string;
  ttlSeconds?: number;
}): SendCommandInput {
  const args = req.args ?? {};
  const entries = Object.entries(args);
  if (entries.length > ARGS_LIMITS.entries)
    throw DomainError.invalid('args', `must have at most ${ARGS_LIMITS.entries} entries`);
  for (const [k, v] of entries) {
    if (!/^[a-z0-9_]{1,64}$/.test(k)) throw DomainError.invalid('args', 'keys must be 1-64 of a-z, 0-9, _');
    if (v.length > ARGS_LIMITS.value)
      throw DomainError.invalid(`args.${k}`, `must be at most ${ARGS_LIMITS.value} characters`);
  }
  const ttl = req.ttlSeconds ?? 0;
  if (!Number.isInteger(ttl) || ttl < 0) throw DomainError.invalid('ttl_seconds', 'must not be negative');
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: requiredString('tenancy.project_id', req.tenancy?.projectId, TENANT_ID),
    deviceId: requiredUuid('device_id', req.deviceId),
    kind: kindOfProto(requiredEnum('kind', req.kind, ProtoKind) as ProtoKind),
    args,
    reference: optionalString('reference', req.reference, { max: 200 }),
    ttlMs: ttl * 1000,
  };
}

export interface CommandQuery {
  operatorId: string;
  commandId: string;
}

export function toCommandQuery(req: { tenancy?: TenancyInput; commandId?: string }): CommandQuery {
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    commandId: requiredUuid('command_id', req.commandId),
  };
}

export interface CancelCommandInput extends CommandQuery {
  requestId: string;
}

export function toCancelCommand(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  commandId?: string;
}): CancelCommandInput {
  return { requestId: requestId(req.requestId), ...toCommandQuery(req) };
}

export const COMMANDS_PAGE = pageCursor('iot.commands', keyPart.timestamp, keyPart.uuid);

export interface ListCommandsQuery {
  operatorId: string;
  deviceId: string;
  size: number;
  after: { createdAt: string; commandId: string } | undefined;
}

export function toListCommands(req: {
  tenancy?: TenancyInput;
  deviceId?: string;
  page?: PageRequestLike;
}): ListCommandsQuery {
  const { size, after } = parsePage(req.page, COMMANDS_PAGE);
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    deviceId: requiredUuid('device_id', req.deviceId),
    size,
    after: after && { createdAt: after[0], commandId: after[1] },
  };
}

/** A device's report on its commands/ack topic, validated. */
export function parseDeviceReport(body: unknown): { commandId: string; report: CommandReport } | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const commandId = typeof b.command_id === 'string' ? b.command_id : '';
  if (!/^[0-9a-f-]{36}$/i.test(commandId)) return undefined;
  const detail = typeof b.detail === 'string' ? b.detail.slice(0, 200) : undefined;
  switch (b.status) {
    case 'accepted':
      return { commandId, report: { type: 'ACCEPTED' } };
    case 'succeeded':
      return { commandId, report: { type: 'RESULT', ok: true, detail } };
    case 'failed':
      return { commandId, report: { type: 'RESULT', ok: false, detail } };
    case 'refused':
      return {
        commandId,
        report: { type: 'REFUSED', late: b.reason === 'late', detail: detail ?? String(b.reason ?? '') },
      };
    default:
      return undefined;
  }
}
