import {
  CommandReport,
  CommandState,
  CommandView,
  commandDeadline,
  decideReport,
  decideTimeout,
  deviceAccepts,
  EXPIRY_GRACE_MS,
  isFinal,
  mayPublish,
} from './commands.domain';

const T0 = new Date('2026-12-06T08:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const view = (state: CommandState, extra: Partial<CommandView> = {}): CommandView => ({
  state,
  kind: 'DOOR_OPEN',
  deadline: at(10_000),
  deliveredAt: null,
  ...extra,
});

describe('command deadlines', () => {
  it('defaults to the kind maximum: door 10 s, gate 30 s', () => {
    expect(commandDeadline('DOOR_OPEN', 0, T0)).toEqual(at(10_000));
    expect(commandDeadline('GATE_OPEN', 0, T0)).toEqual(at(30_000));
    expect(commandDeadline('GATE_OPEN', 5_000, T0)).toEqual(at(5_000));
  });

  it('refuses a TTL above the kind maximum, naming the field', () => {
    expect(() => commandDeadline('DOOR_OPEN', 11_000, T0)).toThrow('ttl_seconds: must be from 0 to 10');
    expect(() => commandDeadline('GATE_OPEN', 31_000, T0)).toThrow('ttl_seconds');
    expect(() => commandDeadline('GATE_OPEN', -1, T0)).toThrow('ttl_seconds');
  });

  it('the device executes only before the deadline', () => {
    expect(deviceAccepts({ deadline_ms: at(10_000).getTime() }, at(9_999).getTime())).toBe(true);
    expect(deviceAccepts({ deadline_ms: at(10_000).getTime() }, at(10_000).getTime())).toBe(false);
  });
});

describe('command state machine', () => {
  it('walks queued > sent > delivered > succeeded', () => {
    let s: CommandState = 'QUEUED';
    const steps: CommandReport[] = [
      { type: 'PUBLISHED' },
      { type: 'ACCEPTED' },
      { type: 'RESULT', ok: true },
    ];
    const seen: CommandState[] = [];
    for (const r of steps) {
      const d = decideReport(view(s), r);
      if (d.kind !== 'MOVE') throw new Error(`expected a move, got ${d.kind}`);
      s = d.to;
      seen.push(s);
    }
    expect(seen).toEqual(['SENT', 'DELIVERED', 'SUCCEEDED']);
  });

  it('a late refusal from the device ends EXPIRED (never executed), another refusal FAILED', () => {
    expect(decideReport(view('SENT'), { type: 'REFUSED', late: true })).toEqual({
      kind: 'MOVE',
      to: 'EXPIRED',
    });
    expect(decideReport(view('SENT'), { type: 'REFUSED', late: false, detail: 'jammed' })).toEqual({
      kind: 'MOVE',
      to: 'FAILED',
      detail: 'jammed',
    });
  });

  it('accepts a result that overtakes the accepted ack', () => {
    expect(decideReport(view('SENT'), { type: 'RESULT', ok: false })).toMatchObject({
      kind: 'MOVE',
      to: 'FAILED',
    });
  });

  it('reaches exactly one final state: every report after it is ignored', () => {
    const reports: CommandReport[] = [
      { type: 'PUBLISHED' },
      { type: 'ACCEPTED' },
      { type: 'RESULT', ok: true },
      { type: 'RESULT', ok: false },
      { type: 'REFUSED', late: true },
    ];
    for (const final of ['SUCCEEDED', 'FAILED', 'EXPIRED', 'TIMED_OUT', 'CANCELLED'] as CommandState[]) {
      expect(isFinal(final)).toBe(true);
      for (const r of reports) expect(decideReport(view(final), r).kind).toBe('IGNORE');
      expect(decideTimeout(view(final), at(1_000_000))).toBeUndefined();
    }
  });

  it('duplicate reports are acknowledged and change nothing', () => {
    expect(decideReport(view('SENT'), { type: 'PUBLISHED' })).toEqual({
      kind: 'IGNORE',
      reason: 'DUPLICATE',
    });
    expect(decideReport(view('DELIVERED'), { type: 'ACCEPTED' })).toEqual({
      kind: 'IGNORE',
      reason: 'DUPLICATE',
    });
    expect(decideReport(view('SUCCEEDED'), { type: 'RESULT', ok: true })).toEqual({
      kind: 'IGNORE',
      reason: 'DUPLICATE',
    });
  });

  it('cancels only a queued command', () => {
    expect(decideReport(view('QUEUED'), { type: 'CANCEL' })).toEqual({ kind: 'MOVE', to: 'CANCELLED' });
    expect(decideReport(view('SENT'), { type: 'CANCEL' })).toMatchObject({
      kind: 'REFUSE',
      code: 'COMMAND_NOT_CANCELLABLE',
    });
    expect(decideReport(view('SUCCEEDED'), { type: 'CANCEL' })).toMatchObject({
      kind: 'REFUSE',
      code: 'COMMAND_FINAL',
    });
  });
});

describe('command timeouts', () => {
  it('expires a queued command at its deadline, a sent one after the grace', () => {
    expect(decideTimeout(view('QUEUED'), at(9_999))).toBeUndefined();
    expect(decideTimeout(view('QUEUED'), at(10_000))).toBe('EXPIRED');
    expect(decideTimeout(view('SENT'), at(10_000))).toBeUndefined();
    expect(decideTimeout(view('SENT'), at(10_000 + EXPIRY_GRACE_MS))).toBe('EXPIRED');
  });

  it('times out a delivered command after its result window', () => {
    const delivered = view('DELIVERED', { deliveredAt: at(3_000) });
    expect(decideTimeout(delivered, at(19_999))).toBeUndefined();
    expect(decideTimeout(delivered, at(20_000))).toBe('TIMED_OUT');
  });

  it('never republishes after the deadline (a restart of iot cannot send a late command)', () => {
    expect(mayPublish(view('QUEUED'), at(9_999))).toBe(true);
    expect(mayPublish(view('SENT'), at(9_999))).toBe(true);
    expect(mayPublish(view('QUEUED'), at(10_000))).toBe(false);
    expect(mayPublish(view('DELIVERED'), at(1_000))).toBe(false);
  });
});
