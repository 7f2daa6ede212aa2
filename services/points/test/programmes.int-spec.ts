import { DomainError, Mutations } from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import { Programme, ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';
import { ProgrammesService } from '../src/programmes/programmes.service';
import {
  cityClient,
  errorCode,
  errorField,
  grpcError,
  PointsClient,
  PointsHarness,
  rowCounts,
  startPointsHarness,
  status,
} from './points-harness';

const A = 'op-a';
const B = 'op-b';

const programme = (operatorId: string, over: Partial<Programme> = {}): Programme => ({
  tenancy: { operatorId, projectId: '', merchantId: '' },
  pointValue: { currency: 'CNY', amountMinor: 1n },
  lotLifetimeDays: 365,
  refundWindowHours: 168,
  shortfallPolicy: ShortfallPolicy.SHORTFALL_POLICY_DEBT,
  expiryNoticeDays: 30,
  tiers: [
    { name: 'Bronze', threshold: 0n, multiplierPermille: 1000 },
    { name: 'Gold', threshold: 5000n, multiplierPermille: 2000 },
  ],
  tierWindowDays: 365,
  updatedAt: undefined,
  ...over,
});

describe('points: programmes (in-process service)', () => {
  let h: PointsHarness;
  let opA: PointsClient;
  let opB: PointsClient;

  beforeAll(async () => {
    h = await startPointsHarness('programmes');
    opA = h.clientOf({ operators: [A] });
    opB = h.clientOf({ operators: [B] });
  });

  afterAll(async () => {
    await h?.stop();
  });

  const counts = () => rowCounts(h.pool, ['programmes', 'idempotency_keys']);

  it('sets and reads an operator programme; a repeat answers it as it is now', async () => {
    const req = { requestId: uniqueName('r'), programme: programme(A) };
    const set = (await opA.setProgramme(req)).programme!;
    expect(set).toMatchObject({ ...programme(A), updatedAt: expect.anything() });
    expect(
      (await opA.getProgramme({ tenancy: { operatorId: A, projectId: '', merchantId: '' } })).programme,
    ).toEqual(set);

    const changed = programme(A, { tiers: [], shortfallPolicy: ShortfallPolicy.SHORTFALL_POLICY_FORGIVE });
    await opA.setProgramme({ requestId: uniqueName('r'), programme: changed });
    expect((await opA.setProgramme(req)).programme).toMatchObject({
      tiers: [],
      shortfallPolicy: ShortfallPolicy.SHORTFALL_POLICY_FORGIVE,
    });
    const err = await grpcError(
      opA.setProgramme({ ...req, programme: programme(A, { lotLifetimeDays: 1 }) }),
    );
    expect([err.code, errorCode(err)]).toEqual([status.ALREADY_EXISTS, 'REQUEST_ID_REUSED']);
    // the city may set and read any operator's
    expect(
      (await cityClient(h).getProgramme({ tenancy: { operatorId: A, projectId: '', merchantId: '' } }))
        .programme?.tiers,
    ).toEqual([]);
  });

  it("refuses another operator's programme (PERMISSION_DENIED), writing nothing", async () => {
    await opB.setProgramme({ requestId: uniqueName('r'), programme: programme(B) });
    const before = await counts();
    for (const call of [
      opA.setProgramme({ requestId: uniqueName('r'), programme: programme(B) }),
      opA.getProgramme({ tenancy: { operatorId: B, projectId: '', merchantId: '' } }),
      // a project client is not its operator
      h
        .clientOf({ projects: ['p-1'] })
        .getProgramme({ tenancy: { operatorId: B, projectId: '', merchantId: '' } }),
    ]) {
      const err = await grpcError(call);
      expect([err.code, errorCode(err)]).toEqual([status.PERMISSION_DENIED, 'TENANCY_FORBIDDEN']);
    }
    expect(await counts()).toEqual(before);
    expect(
      (await opB.getProgramme({ tenancy: { operatorId: B, projectId: '', merchantId: '' } })).programme
        ?.tiers,
    ).toHaveLength(2);
  });

  it('answers NOT_FOUND for an operator without one; other rooms get PROGRAMME_NOT_SET', async () => {
    const op = h.clientOf({ operators: ['op-none'] });
    const err = await grpcError(
      op.getProgramme({ tenancy: { operatorId: 'op-none', projectId: '', merchantId: '' } }),
    );
    expect([err.code, errorCode(err)]).toEqual([status.NOT_FOUND, 'PROGRAMME_NOT_FOUND']);
    // ProgrammesService.get reads with the client it is given only (no Mutations)
    const service = new ProgrammesService(h.pool, undefined as unknown as Mutations);
    await expect(service.get(h.pool, 'op-none')).rejects.toMatchObject({
      kind: 'failed_precondition',
      code: 'PROGRAMME_NOT_SET',
    } satisfies Partial<DomainError>);
    await opA.setProgramme({ requestId: uniqueName('r'), programme: programme(A) });
    expect(await service.get(h.pool, A)).toMatchObject({
      operatorId: A,
      pointValue: { currency: 'CNY', amountMinor: 1n },
      shortfallPolicy: 'DEBT',
      tiers: [
        { name: 'Bronze', threshold: 0n, multiplierPermille: 1000 },
        { name: 'Gold', threshold: 5000n, multiplierPermille: 2000 },
      ],
    });
  });

  it('validates over gRPC, naming the field, before anything is written', async () => {
    const before = await counts();
    const bad: [Programme, string][] = [
      [
        programme(A, {
          tiers: [
            { name: 'B', threshold: 0n, multiplierPermille: 1000 },
            { name: 'S', threshold: 0n, multiplierPermille: 1000 },
          ],
        }),
        'programme.tiers[1].threshold',
      ],
      [programme(A, { lotLifetimeDays: 0 }), 'programme.lot_lifetime_days'],
      [
        programme(A, { pointValue: { currency: 'CNY', amountMinor: -1n } }),
        'programme.point_value.amount_minor',
      ],
      [programme(''), 'programme.tenancy.operator_id'],
    ];
    for (const [p, field] of bad) {
      const err = await grpcError(opA.setProgramme({ requestId: uniqueName('r'), programme: p }));
      expect([err.code, errorField(err)]).toEqual([status.INVALID_ARGUMENT, field]);
    }
    const err = await grpcError(
      opA.setProgramme({
        requestId: uniqueName('r'),
        programme: programme(A, {
          tiers: [
            { name: 'B', threshold: 0n, multiplierPermille: 1000 },
            { name: 'S', threshold: 0n, multiplierPermille: 1000 },
          ],
        }),
      }),
    );
    expect(err.details).toBe("programme.tiers[1].threshold: must be greater than the previous tier's");
    expect(await counts()).toEqual(before);
  });
});
