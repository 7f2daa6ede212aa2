import { status } from '@grpc/grpc-js';
import type { CityApi } from './api';
import type { City } from './city';
import type { Json } from './descriptor-rpc';
import type { AlarmFigures, DealFigures, DisputeFigures, MemberFigures } from './invariants';
import { ALARM, DEAL, ESCROW, Ledger, minorOf, SEAT, until } from './ops';

const MKT = '/citybase.marketing.v1.MarketingService/';
const SETTLE = '/citybase.settlement.v1.SettlementService/';
const IOT = '/citybase.iot.v1.IotService/';
const PEOPLE = '/citybase.identity.v1.PeopleService/';
const HOUSEHOLD_ROLE_MEMBER = 2;

export interface LifeFigures {
  deals: DealFigures[];
  disputes: DisputeFigures[];
  alarms: AlarmFigures[];
  members: MemberFigures[];
}

/** An escrow order's status at settlement (0: settlement has no such order). */
async function escrowStatus(api: CityApi, orderId: string): Promise<number> {
  if (!orderId) return 0;
  const r = await api.call(`${SETTLE}GetEscrowOrder`, { orderId });
  if (r.code === status.NOT_FOUND) return 0;
  if (r.code !== status.OK || !r.body) throw new Error(`GetEscrowOrder ${orderId}: ${r.details}`);
  return ((r.body.order as Json).status as number) ?? 0;
}

/** A deal as marketing shows it now, with its seats' orders at settlement. */
async function readDeal(
  api: CityApi,
  deal: City['operators'][number]['communities'][number]['deals'][number],
  ledger: Ledger,
): Promise<DealFigures> {
  const got = await api.ok(`${MKT}GetGroupDeal`, { tenancy: deal.tenancy, dealId: deal.dealId });
  const d = got.deal as Json;
  const seats = [];
  for (const p of (got.participants ?? []) as Json[])
    seats.push({
      participantId: p.participantId as string,
      status: (p.status as number) ?? 0,
      escrow: await escrowStatus(api, (p.paymentId as string | undefined) ?? ''),
    });
  const acknowledged = [...(ledger.seats.get(deal.dealId) ?? [])];
  return {
    name: `${deal.kind} deal ${deal.dealId}`,
    minParticipants: deal.minParticipants,
    maxParticipants: deal.maxParticipants,
    status: (d.status as number) ?? 0,
    paid: Number(d.paid ?? 0),
    pending: Number(d.pending ?? 0),
    pastDeadline: Date.now() > deal.deadlineMs,
    seats,
    acknowledged,
    unsure:
      (ledger.joinsAsked.get(deal.dealId) ?? 0) -
      (ledger.joinsRefused.get(deal.dealId) ?? 0) -
      acknowledged.length,
  };
}

/** Whether marketing and settlement finished with a deal: ended if due, its seats' orders settled. */
function dealSettled(d: DealFigures): boolean {
  if (d.status === DEAL.OPEN) return !d.pastDeadline;
  if (d.status === DEAL.SUCCEEDED)
    return d.seats.every((s) => s.status !== SEAT.PAID || s.escrow === ESCROW.COMPLETED);
  return d.seats.every((s) => s.status !== SEAT.REFUNDED || s.escrow === ESCROW.REFUNDED);
}

/**
 * What the invariants of the day's group buys, disputes, alarms and household members compare:
 * read from marketing, settlement, iot and identity after the load (group buys past their deadline
 * get up to `settleMs` (the --settle option; marketing's deals job runs every 2 s by default) to end
 * and settle; what has not by then is judged as it is).
 */
export async function gatherLifeFigures(
  api: CityApi,
  city: City,
  ledger: Ledger,
  settleMs: number,
): Promise<LifeFigures> {
  const communities = city.operators.flatMap((o) => o.communities);
  const allDeals = communities.flatMap((c) => c.deals);
  let deals: DealFigures[] = [];
  await until(
    'group buys past their deadline to end and settle',
    async () => {
      deals = [];
      for (const deal of allDeals) deals.push(await readDeal(api, deal, ledger));
      return deals.every(dealSettled) ? true : undefined;
    },
    settleMs,
  ).catch(() => undefined);

  const disputes: DisputeFigures[] = [];
  for (const d of ledger.disputes) {
    const o = (await api.ok(`${SETTLE}GetEscrowOrder`, { orderId: d.orderId })).order as Json;
    disputes.push({
      name: `${d.resolution.toLowerCase()} of order ${d.orderId}`,
      expectedStatus: d.status,
      expectedRefunded: d.refundedMinor,
      status: (o.status as number) ?? 0,
      refunded: minorOf(o.refunded as Json | undefined),
      outstanding: minorOf(o.held as Json | undefined) + minorOf(o.refundPending as Json | undefined),
    });
  }

  const alarms: AlarmFigures[] = [];
  const acknowledged = [...ledger.alarmsAcknowledged.values()];
  for (const c of communities)
    for (const s of c.sensors) {
      if (s.kind !== 'smoke') continue;
      const deviceId = s.device.deviceId;
      const asked = ledger.smokeAsked.get(deviceId) ?? 0;
      const acked = ledger.smokeAcked.get(deviceId) ?? 0;
      const mine = acknowledged.filter((a) => a.deviceId === deviceId).map((a) => a.alarmId);
      if (asked === 0 && mine.length === 0) continue;
      const list: Json[] = [];
      let pageToken = '';
      do {
        const page = await api.ok(`${IOT}ListAlarms`, {
          tenancy: { operatorId: c.world.operatorId, projectId: c.world.projectId },
          deviceId,
          openOnly: false,
          page: { pageSize: 100, pageToken },
        });
        list.push(...((page.alarms ?? []) as Json[]));
        pageToken = ((page.page as Json | undefined)?.nextPageToken as string | undefined) ?? '';
      } while (pageToken);
      const smoke = list.filter((a) => a.type === 'SMOKE');
      alarms.push({
        name: `smoke sensor ${deviceId}`,
        smokeReadings: acked,
        unsure: asked - acked,
        occurrences: smoke.reduce((n, a) => n + Number(a.occurrences ?? 0), 0),
        acknowledged: mine,
        acknowledgedInService: smoke
          .filter((a) => a.acknowledged === true && (a.status === ALARM.ACKED || a.status === ALARM.CLEARED))
          .map((a) => a.alarmId as string),
      });
    }

  const members: MemberFigures[] = [];
  for (const c of communities)
    for (const h of c.households) {
      if (h.members.length === 0) continue;
      const household = (await api.ok(`${PEOPLE}GetHousehold`, { householdId: h.householdId }))
        .household as Json;
      const listed = ((household.members ?? []) as Json[])
        .filter((m) => m.role === HOUSEHOLD_ROLE_MEMBER)
        .map((m) => m.residentId as string);
      for (const member of h.members)
        members.push({ name: `${member} of household ${h.householdId}`, bound: listed.includes(member) });
    }
  return { deals, disputes, alarms, members };
}
