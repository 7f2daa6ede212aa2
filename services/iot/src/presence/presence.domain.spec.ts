import { applyPresence, INITIAL, Presence, PresenceInput } from './presence.domain';

const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 7, 0, s));
const up = (session: number, s = 0): PresenceInput => ({
  kind: 'lifecycle',
  online: true,
  session: BigInt(session),
  reason: 'connected',
  at: at(s),
});
const down = (session: number, s = 0, reason = 'last_will'): PresenceInput => ({
  kind: 'lifecycle',
  online: false,
  session: BigInt(session),
  reason,
  at: at(s),
});
const run = (inputs: PresenceInput[]): Presence => inputs.reduce(applyPresence, INITIAL);

/** Every order of `inputs` (small lists). */
function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

describe('presence', () => {
  it('goes online on connect and offline on the last will, counting the changes', () => {
    expect(run([up(1, 1)])).toMatchObject({ online: true, version: 1n, session: 1n });
    expect(run([up(1, 1), down(1, 2)])).toMatchObject({ online: false, version: 2n, reason: 'last_will' });
  });

  it('whatever order and duplicates the lifecycle messages of two sessions come in, the newest session decides (ThingsBoard #13710, #15614)', () => {
    const events = [up(1, 1), down(1, 2), up(2, 3), up(2, 3)];
    for (const order of permutations(events)) expect(run(order).online).toBe(true);
    const ended = [up(1, 1), down(1, 2), up(2, 3), down(2, 4), down(2, 4)];
    for (const order of permutations(ended)) expect(run(order)).toMatchObject({ online: false, session: 2n });
  });

  it("a late 'online' of a session that ended does not bring the device back", () => {
    expect(run([down(5, 2), up(5, 1)])).toMatchObject({ online: false, session: 5n });
  });

  it('activity moves last_seen only, and revives a device the inactivity timeout took offline', () => {
    const p = run([up(1, 1), { kind: 'activity', at: at(9) }]);
    expect(p).toMatchObject({ online: true, version: 1n, lastSeenAt: at(9) });
    const inactive = { ...p, online: false, version: 2n, reason: 'inactive' };
    expect(applyPresence(inactive, { kind: 'activity', at: at(20) })).toMatchObject({
      online: true,
      version: 3n,
    });
    const willed = run([up(1, 1), down(1, 2)]);
    expect(applyPresence(willed, { kind: 'activity', at: at(30) })).toMatchObject({
      online: false,
      version: 2n,
    });
  });
});
