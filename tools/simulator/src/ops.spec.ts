import { status } from '@grpc/grpc-js';
import { CityApi, RpcError } from './api';
import type { City, Community } from './city';
import type { Json } from './descriptor-rpc';
import {
  alarmOfReading,
  DayOfLife,
  disputeSettled,
  ESCROW,
  GROUP_DEAL_OPEN_MS,
  SEAT,
  timestampMs,
} from './ops';
import { Random } from './random';

const ts = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });

describe('alarmOfReading', () => {
  const smoke = (alarmId: string, raisedMs: number, clearedMs?: number): Json => ({
    alarmId,
    type: 'SMOKE',
    raisedAt: ts(raisedMs),
    ...(clearedMs === undefined ? {} : { clearedAt: ts(clearedMs) }),
  });

  it('finds the alarm a reading raised (raised at the reading), or the open one it was counted into', () => {
    const alarms = [smoke('new', 5_000), smoke('old', 1_000, 3_000)];
    expect(alarmOfReading(alarms, 5_000)?.alarmId).toBe('new');
    expect(alarmOfReading([smoke('open', 1_000)], 5_000)?.alarmId).toBe('open');
    // cleared after the reading was taken: the reading was counted into it
    expect(alarmOfReading([smoke('late-clear', 1_000, 6_000)], 5_000)?.alarmId).toBe('late-clear');
  });

  it('finds nothing before iot raised it: an alarm cleared before the reading, one raised after it, another type', () => {
    expect(alarmOfReading([smoke('old', 1_000, 3_000)], 5_000)).toBeUndefined();
    expect(alarmOfReading([smoke('later', 6_000)], 5_000)).toBeUndefined();
    expect(alarmOfReading([{ ...smoke('temp', 1_000), type: 'OVER_TEMPERATURE' }], 5_000)).toBeUndefined();
  });

  it('reads timestamps to the millisecond', () => {
    expect(timestampMs(ts(1_733_000_000_123))).toBe(1_733_000_000_123);
    expect(timestampMs(undefined)).toBeUndefined();
  });
});

describe('disputeSettled', () => {
  const money = (n: bigint) => ({ currency: 'CNY', amountMinor: String(n) });
  const order = (status: number, refunded: bigint, held = 0n, pending = 0n): Json => ({
    status,
    refunded: money(refunded),
    held: money(held),
    refundPending: money(pending),
  });

  it('is settled when the order is as the resolution leaves it', () => {
    expect(disputeSettled(order(ESCROW.COMPLETED, 0n), { status: ESCROW.COMPLETED, refundedMinor: 0n })).toBe(
      true,
    );
    expect(
      disputeSettled(order(ESCROW.REFUNDED, 1500n), { status: ESCROW.REFUNDED, refundedMinor: 1500n }),
    ).toBe(true);
  });

  it('is not while the refund is on its way, money is held, or the outcome differs', () => {
    const partial = { status: ESCROW.COMPLETED, refundedMinor: 200n };
    expect(disputeSettled(order(ESCROW.DISPUTED, 0n, 1500n, 200n), partial)).toBe(false);
    expect(disputeSettled(order(ESCROW.COMPLETED, 200n, 0n, 1n), partial)).toBe(false);
    expect(disputeSettled(order(ESCROW.COMPLETED, 100n), partial)).toBe(false);
    expect(disputeSettled(order(ESCROW.REFUNDED, 200n), partial)).toBe(false);
  });
});

describe('DayOfLife group buys', () => {
  /** A city of one community with two households, and a marketing that answers as `join` says. */
  const setUp = (join: (dealId: string, userId: string) => Json | RpcError) => {
    const calls: { path: string; request: Json }[] = [];
    const participants = new Map<string, Json[]>();
    let deals = 0;
    const api = {
      ok: async (path: string, request: Json): Promise<Json> => {
        calls.push({ path, request });
        const rpc = path.split('/').pop();
        if (rpc === 'CreateGroupDeal')
          return { deal: { ...(request.deal as Json), dealId: `deal-${++deals}` } };
        if (rpc === 'JoinGroupDeal') {
          const answer = join(request.dealId as string, request.userId as string);
          if (answer instanceof RpcError) throw answer;
          const list = participants.get(request.dealId as string) ?? [];
          participants.set(request.dealId as string, [...list, answer]);
          return { deal: {}, participant: answer };
        }
        if (rpc === 'GetGroupDeal')
          return { deal: {}, participants: participants.get(request.dealId as string) };
        throw new Error(`unexpected ${path}`);
      },
    } as unknown as CityApi;
    const community = {
      label: 'C1',
      world: { operatorId: 'op', projectId: 'pr', merchantId: 'me' },
      households: [
        { residentId: 'r1', members: [] },
        { residentId: 'r2', members: [] },
      ],
      deals: [],
    } as unknown as Community;
    const city = { operators: [{ operatorId: 'op', communities: [community] }] } as unknown as City;
    return { life: new DayOfLife(api, city, new Random('g')), community, calls };
  };

  it('opens a deal when none is open, joins it with a resident not yet in it, and is ok once the seat is paid', async () => {
    const { life, community, calls } = setUp((_d, userId) => ({
      participantId: `p-${userId}`,
      status: SEAT.PAID,
    }));
    expect(await life.run('group')).toBe('ok');
    expect(community.deals).toHaveLength(1);
    const deal = community.deals[0]!;
    expect(deal).toMatchObject({ dealId: 'deal-1', kind: 'popular', minParticipants: 2, maxParticipants: 3 });
    expect(deal.deadlineMs).toBeGreaterThan(Date.now() + GROUP_DEAL_OPEN_MS - 5_000);
    expect(await life.run('group')).toBe('ok');
    // both residents joined the same deal, each once
    const joins = calls.filter((c) => c.path.endsWith('JoinGroupDeal')).map((c) => c.request);
    expect(joins.map((j) => j.dealId)).toEqual(['deal-1', 'deal-1']);
    expect(new Set(joins.map((j) => j.userId))).toEqual(new Set(['r1', 'r2']));
    expect([...life.ledger.seats.get('deal-1')!].sort()).toEqual(['p-r1', 'p-r2']);
    expect(life.ledger.joinsAsked.get('deal-1')).toBe(2);
    // every resident is in it: the next join opens the next deal, a niche one (more seats than residents)
    expect(await life.run('group')).toBe('ok');
    expect(community.deals.map((d) => d.kind)).toEqual(['popular', 'niche']);
    expect(community.deals[1]).toMatchObject({ minParticipants: 3, maxParticipants: 3 });
  });

  it('counts a full deal as refused (not an error) and joins another deal next time', async () => {
    let full = true;
    const { life, community } = setUp((_d, userId) =>
      full
        ? new RpcError('/x/JoinGroupDeal', status.FAILED_PRECONDITION, 'GROUP_DEAL_FULL')
        : { participantId: `p-${userId}`, status: SEAT.PAID },
    );
    expect(await life.run('group')).toBe('refused');
    expect(community.deals[0]!.closed).toBe(true);
    expect(life.ledger.joinsRefused.get('deal-1')).toBe(1);
    full = false;
    expect(await life.run('group')).toBe('ok');
    expect(community.deals).toHaveLength(2);
  });

  it('counts a seat refunded because its payment came after the seat was gone as refused', async () => {
    const { life } = setUp((_d, userId) => ({ participantId: `p-${userId}`, status: SEAT.REFUNDED }));
    expect(await life.run('group')).toBe('refused');
    // marketing answered the join: the seat is acknowledged (the invariant looks for it)
    expect(life.ledger.seats.get('deal-1')?.size).toBe(1);
  });

  it('asks the same join again after UNAVAILABLE (marketing held the seat, payment did not answer)', async () => {
    let answers = 0;
    const { life, calls } = setUp((_d, userId) =>
      ++answers === 1
        ? new RpcError('/x/JoinGroupDeal', status.UNAVAILABLE, 'payment unavailable')
        : { participantId: `p-${userId}`, status: SEAT.PAID },
    );
    expect(await life.run('group')).toBe('ok');
    const joins = calls.filter((c) => c.path.endsWith('JoinGroupDeal')).map((c) => c.request);
    expect(joins).toHaveLength(2);
    expect(joins[1]).toEqual(joins[0]);
    expect(life.ledger.seats.get('deal-1')?.size).toBe(1);
  });

  it('lets an unclear failure through (the join may have been made: unsure, not refused)', async () => {
    const { life } = setUp(() => new RpcError('/x/JoinGroupDeal', status.INTERNAL, 'boom'));
    await expect(life.run('group')).rejects.toThrow('INTERNAL');
    expect(life.ledger.joinsAsked.get('deal-1')).toBe(1);
    expect(life.ledger.joinsRefused.get('deal-1')).toBeUndefined();
  });

  it('has no dispute or alarm to see to before a paid stay or a smoke reading', () => {
    const { life } = setUp(() => ({}));
    expect(life.eligible('dispute')).toBe(false);
    expect(life.eligible('alarm')).toBe(false);
    expect(life.eligible('group')).toBe(true);
  });
});
