import { DomainError } from '@citybase/platform';

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
  DOOR_CONTROLLER: ['DOOR_OPEN', 'REBOOT'],
  PARKING_GATE: ['GATE_OPEN', 'GATE_CLOSE', 'REBOOT'],
  EV_CHARGER: ['CHARGER_START', 'CHARGER_STOP', 'REBOOT'],
};

export function assertKindFitsDevice(kind: CommandKind, deviceKind: string): void {
  const kinds = KINDS_BY_DEVICE[deviceKind] ?? ['REBOOT'];
  if (!kinds.includes(kind))
    throw DomainError.invalid('kind', `a ${deviceKind} takes only ${kinds.join(', ')}`);
}
