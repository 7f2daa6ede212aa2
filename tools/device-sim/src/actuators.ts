import type { ReceivedCommand, SimDevice } from './device';

/**
 * Devices that act on commands (docs/iot.md "Commands"): door controllers, parking gates, chargers.
 * Each honours the rules iot relies on:
 *  - a command arriving at or after its `deadline_ms` (by the device's own clock) is refused as
 *    late and never executed;
 *  - a command id is executed at most once, also across restarts: `memory` is the device's flash
 *    (pass the same object to the restarted device);
 *  - it reports on commands/ack: accepted, then succeeded (or failed), or refused.
 */
export interface ActuatorMemory {
  /** Command ids executed, with their result. */
  executed: Map<string, 'succeeded' | 'failed'>;
}

export const newActuatorMemory = (): ActuatorMemory => ({ executed: new Map() });

export interface ExecutedCommand {
  commandId: string;
  kind: string;
  args: Record<string, string>;
  at: number;
}

export interface ActuatorOptions {
  memory?: ActuatorMemory;
  /** Milliseconds added to Date.now() for the device's clock (a skewed device). */
  clockOffsetMs?: number;
  /** How long executing takes (a gate arm moving). */
  actMs?: number;
  /** Answer FAILED instead of succeeding (a jammed door). */
  fail?: boolean;
  /** Do not report a result after accepting (a device that hangs: iot times the command out). */
  silentAfterAccept?: boolean;
}

export class Actuator {
  readonly memory: ActuatorMemory;
  /** What this device really did (tests: a late command must never appear here). */
  readonly executions: ExecutedCommand[] = [];
  readonly refusedLate: string[] = [];

  constructor(
    readonly device: SimDevice,
    private readonly opts: ActuatorOptions = {},
  ) {
    this.memory = opts.memory ?? newActuatorMemory();
    device.onCommand((cmd) => void this.handle(cmd).catch(() => undefined));
  }

  private now(): number {
    return Date.now() + (this.opts.clockOffsetMs ?? 0);
  }

  private async ack(commandId: string, status: string, extra: Record<string, string> = {}): Promise<void> {
    await this.device.publish('commands/ack', { command_id: commandId, status, ...extra });
  }

  private async handle(cmd: ReceivedCommand): Promise<void> {
    const p = cmd.payload;
    const commandId = typeof p.command_id === 'string' ? p.command_id : '';
    const deadline = typeof p.deadline_ms === 'number' ? p.deadline_ms : 0;
    if (!commandId) return;
    const done = this.memory.executed.get(commandId);
    if (done) return this.ack(commandId, done); // a republished command: same answer, not again
    if (this.now() >= deadline) {
      this.refusedLate.push(commandId);
      return this.ack(commandId, 'refused', { reason: 'late' });
    }
    await this.ack(commandId, 'accepted');
    const result = this.opts.fail ? 'failed' : 'succeeded';
    this.memory.executed.set(commandId, result);
    this.executions.push({
      commandId,
      kind: String(p.kind),
      args: (p.args ?? {}) as Record<string, string>,
      at: this.now(),
    });
    if (this.opts.actMs) await new Promise((r) => setTimeout(r, this.opts.actMs));
    if (this.opts.silentAfterAccept) return;
    await this.ack(commandId, result, result === 'failed' ? { detail: 'jammed' } : {});
  }
}

/** One charger session event as the charger numbers it (docs/iot.md "EV charging"). */
export interface ChargerSessionEvent {
  transactionId: string;
  seq: number;
  type: 'START' | 'METER' | 'STOP';
  registerWh?: bigint;
  at: Date;
  userId: string;
}

/**
 * An EV charger's session log: events get consecutive sequence numbers per transaction and are
 * kept in a buffer until the central system acknowledged them (APPLIED or DUPLICATE), so events
 * made while offline are sent later, in order; a retried send repeats the same numbers.
 */
export class SimCharger {
  private registerWh: bigint;
  private seq = 0;
  private transaction = '';
  private userId = '';
  readonly buffer: ChargerSessionEvent[] = [];

  constructor(startRegisterWh: bigint) {
    this.registerWh = startRegisterWh;
  }

  get register(): bigint {
    return this.registerWh;
  }

  /** Starts a session; `registerOverride` models an offline start reporting a bogus register. */
  start(
    transactionId: string,
    userId: string,
    at = new Date(),
    registerOverride?: bigint,
  ): ChargerSessionEvent {
    this.transaction = transactionId;
    this.userId = userId;
    this.seq = 0;
    return this.push('START', at, registerOverride ?? this.registerWh);
  }

  /** Delivers `wh` of energy and reports the register. */
  meter(wh: bigint, at = new Date()): ChargerSessionEvent {
    this.registerWh += wh;
    return this.push('METER', at, this.registerWh);
  }

  stop(wh = 0n, at = new Date(), registerOverride?: bigint): ChargerSessionEvent {
    this.registerWh += wh;
    return this.push('STOP', at, registerOverride ?? this.registerWh);
  }

  private push(type: ChargerSessionEvent['type'], at: Date, registerWh: bigint): ChargerSessionEvent {
    this.seq += 1;
    const e = { transactionId: this.transaction, seq: this.seq, type, registerWh, at, userId: this.userId };
    this.buffer.push(e);
    return e;
  }

  /**
   * Sends the buffer in order with `send` (flushOver: over MQTT); drops what was
   * acknowledged (APPLIED / DUPLICATE / REFUSED: the central system has seen it) and keeps the rest.
   */
  async flush(
    send: (
      events: ChargerSessionEvent[],
    ) => Promise<{ seq: number; transactionId: string; acknowledged: boolean }[]>,
  ): Promise<void> {
    if (this.buffer.length === 0) return;
    const answers = await send([...this.buffer]);
    for (const a of answers) {
      if (!a.acknowledged) break;
      const i = this.buffer.findIndex((e) => e.seq === a.seq && e.transactionId === a.transactionId);
      if (i >= 0) this.buffer.splice(i, 1);
    }
  }

  /**
   * Sends the buffer over MQTT (docs/iot.md "Device events"): each event on the charger's `events`
   * channel as CHARGER_START / CHARGER_METER / CHARGER_STOP, message id `<transaction>-<seq>` (a
   * resend is the same message), in order. What the broker acknowledged leaves the buffer: it keeps
   * the message for iot's session until iot acknowledges it in turn, which iot does only once it
   * applied it. The first failure (offline) keeps the event and the rest for the next flush.
   */
  async flushOver(device: SimDevice): Promise<void> {
    await this.flush(async (events) => {
      const answers: { seq: number; transactionId: string; acknowledged: boolean }[] = [];
      for (const e of events) {
        try {
          await device.publish('events', chargerMessage(e));
          answers.push({ seq: e.seq, transactionId: e.transactionId, acknowledged: true });
        } catch {
          break;
        }
      }
      return answers;
    });
  }
}

/** A charger session event as the charger publishes it on its `events` channel. */
export function chargerMessage(e: ChargerSessionEvent): Record<string, unknown> {
  return {
    id: `${e.transactionId}-${e.seq}`,
    ts: e.at.toISOString(),
    type: `CHARGER_${e.type}`,
    data: {
      transaction_id: e.transactionId,
      seq: e.seq,
      ...(e.registerWh === undefined ? {} : { register_wh: e.registerWh.toString() }),
      ...(e.type === 'START' ? { user_id: e.userId } : {}),
    },
  };
}

/**
 * A lot's plate camera (docs/iot.md "Device events"): each read is a PLATE_READ on its `events`
 * channel with the plate; iot makes it an entry or an exit by which of the lot's cameras it is.
 */
export class PlateCamera {
  constructor(readonly device: SimDevice) {}

  /** Publishes a read; resolves with its message id once the broker has it. */
  async read(plate: string, opts: { id?: string; at?: Date } = {}): Promise<string> {
    const id = opts.id ?? this.device.nextId();
    await this.device.publish('events', {
      id,
      ts: (opts.at ?? new Date()).toISOString(),
      type: 'PLATE_READ',
      data: { plate },
    });
    return id;
  }
}
