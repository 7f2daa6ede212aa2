import { DomainError, Mutations, withTransaction } from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import { BudgetLevel } from '@citybase/contracts/citybase/points/v1/points';
import { PointsEvents } from '@citybase/contracts/events';
import { BudgetsService } from '../src/budgets/budgets.service';
import { checkBudgetInvariants } from '../src/budget-invariants';
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
const P = 'proj-p';
const tenancy = (operatorId = '', projectId = '') => ({ operatorId, projectId, merchantId: '' });

describe('points: budgets (in-process service)', () => {
  let h: PointsHarness;
  let city: PointsClient;
  let opA: PointsClient;
  let opB: PointsClient;
  let projP: PointsClient;
  /**
   * The issuance API other rooms call inside their transaction; charge, uncharge, redeemed and
   * expired use only the client they are given (no Mutations), so the test builds one directly.
   */
  let budgets: BudgetsService;

  beforeAll(async () => {
    h = await startPointsHarness('budgets');
    city = cityClient(h);
    opA = h.clientOf({ operators: [A] });
    opB = h.clientOf({ operators: [B] });
    projP = h.clientOf({ projects: [P] });
    budgets = new BudgetsService(h.pool, undefined as unknown as Mutations);
  });

  afterEach(async () => {
    expect((await checkBudgetInvariants(h.pool)).violations).toEqual([]);
  });

  afterAll(async () => {
    if (h) {
      const report = await checkBudgetInvariants(h.pool);
      await h.stop();
      expect(report.violations).toEqual([]);
    }
  });

  const set = (c: PointsClient, period: string, allotted: bigint, operatorId = '', projectId = '') =>
    c.setBudget({ requestId: uniqueName('set'), tenancy: tenancy(operatorId, projectId), period, allotted });
  const get = (c: PointsClient, period: string, operatorId = '', projectId = '') =>
    c.getBudget({ tenancy: tenancy(operatorId, projectId), period }).then((r) => r.budget!);
  const charge = (
    period: string,
    points: bigint,
    issuer: { operatorId: string; projectId?: string } = { operatorId: A, projectId: P },
  ) =>
    withTransaction(h.pool, (c) =>
      budgets.charge(c, issuer, new Date(`${period}-15T00:00:00+08:00`), points),
    );
  const domainCode = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      if (err instanceof DomainError) return `${err.kind} ${err.code}`;
      throw err;
    }
    throw new Error('expected a DomainError');
  };
  const counts = () => rowCounts(h.pool, ['budgets', 'idempotency_keys', 'outbox']);

  /** city 1000 > operator A 600 > project P 400, and operator B 100, in `period`. */
  async function hierarchy(period: string) {
    await set(city, period, 1000n);
    await set(city, period, 600n, A);
    await set(city, period, 100n, B);
    await set(opA, period, 400n, A, P);
  }

  it('keeps city 1000 > operator 600 > project 400, with subtree totals and BudgetChanged events', async () => {
    const period = '2030-01';
    await hierarchy(period);
    expect(await get(city, period)).toMatchObject({
      level: BudgetLevel.BUDGET_LEVEL_CITY,
      tenancy: tenancy(),
      period,
      allotted: 1000n,
      allottedToChildren: 700n,
      issued: 0n,
      unallotted: 300n,
    });
    expect(await get(opA, period, A)).toMatchObject({
      level: BudgetLevel.BUDGET_LEVEL_OPERATOR,
      allotted: 600n,
      allottedToChildren: 400n,
      unallotted: 200n,
    });

    const pId = await charge(period, 150n);
    await charge(period, 30n, { operatorId: A }); // the operator issuing without a project
    await withTransaction(h.pool, async (c) => {
      await budgets.redeemed(c, pId, 40n);
      await budgets.expired(c, pId, 10n);
      await budgets.uncharge(c, pId, 20n);
    });
    expect(await get(projP, period, A, P)).toMatchObject({
      issued: 130n,
      unallotted: 270n,
      subtreeIssued: 130n,
      subtreeRedeemed: 40n,
      subtreeExpired: 10n,
    });
    expect(await get(opA, period, A)).toMatchObject({ issued: 30n, unallotted: 170n, subtreeIssued: 160n });
    expect(await get(city, period)).toMatchObject({ issued: 0n, subtreeIssued: 160n, subtreeRedeemed: 40n });

    const listed = await city.listBudgets({ tenancy: tenancy(), period, page: undefined });
    expect(listed.budgets.map((b) => [b.tenancy?.operatorId, b.allotted, b.subtreeIssued])).toEqual([
      [A, 600n, 160n],
      [B, 100n, 0n],
    ]);
    expect(listed.page?.nextPageToken).toBe('');

    const events = await h.pool.query<{ payload: Buffer; partition_key: string }>(
      'SELECT payload, partition_key FROM outbox WHERE event_type = $1 ORDER BY id',
      [PointsEvents.BudgetChanged.type],
    );
    const ofPeriod = events.rows
      .map((r) => ({ key: r.partition_key, e: PointsEvents.BudgetChanged.codec.decode(r.payload) }))
      .filter((x) => x.e.budget?.period === period);
    expect(
      ofPeriod.map((x) => [
        x.key,
        x.e.budget?.tenancy?.projectId,
        x.e.previousAllotted,
        x.e.budget?.allotted,
      ]),
    ).toEqual([
      ['', '', 0n, 1000n],
      [A, '', 0n, 600n],
      [B, '', 0n, 100n],
      [A, P, 0n, 400n],
    ]);
  });

  it('refuses lowering a node below what it issued and handed down, and writes nothing', async () => {
    const period = '2030-02';
    await hierarchy(period);
    await charge(period, 300n);
    const before = await counts();
    let err = await grpcError(set(opA, period, 299n, A, P));
    expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'BUDGET_BELOW_USE']);
    err = await grpcError(set(city, period, 399n, A));
    expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'BUDGET_BELOW_USE']);
    err = await grpcError(set(city, period, 699n));
    expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'BUDGET_BELOW_USE']);
    expect(await counts()).toEqual(before);
    expect(await get(city, period, A)).toMatchObject({ allotted: 600n, allottedToChildren: 400n });

    // down to exactly what is used is fine, and hands the rest back to the parent
    expect((await set(opA, period, 300n, A, P)).budget).toMatchObject({ allotted: 300n, unallotted: 0n });
    expect(await get(city, period, A)).toMatchObject({ allottedToChildren: 300n, unallotted: 300n });
  });

  it("refuses raising a node beyond its parent's unallotted budget", async () => {
    const period = '2030-03';
    await hierarchy(period);
    await charge(period, 50n, { operatorId: A }); // operator A: 600 - 400 - 50 = 150 left
    const before = await counts();
    let err = await grpcError(set(opA, period, 551n, A, P));
    expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'PARENT_BUDGET_EXCEEDED']);
    err = await grpcError(set(city, period, 901n, A)); // the city has 300 left
    expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'PARENT_BUDGET_EXCEEDED']);
    expect(await counts()).toEqual(before);
    expect((await set(opA, period, 550n, A, P)).budget).toMatchObject({ allotted: 550n });
    expect(await get(opA, period, A)).toMatchObject({
      allottedToChildren: 550n,
      issued: 50n,
      unallotted: 0n,
    });
    // a new node takes from its parent too
    err = await grpcError(set(opA, period, 1n, A, 'proj-q'));
    expect(errorCode(err)).toBe('PARENT_BUDGET_EXCEEDED');
    expect((await set(opA, period, 0n, A, 'proj-q')).budget).toMatchObject({ allotted: 0n });
  });

  it('refuses sums past int64 like any other excess', async () => {
    const period = '2030-11';
    const MAX = 2n ** 63n - 1n;
    await set(city, period, MAX);
    await set(city, period, MAX, A);
    await set(opA, period, MAX, A, P);
    const err = await grpcError(set(opA, period, 1n, A, 'proj-q'));
    expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'PARENT_BUDGET_EXCEEDED']);
    await charge(period, MAX);
    expect(await domainCode(charge(period, 1n))).toBe('failed_precondition BUDGET_EXCEEDED');
    expect(await get(city, period)).toMatchObject({ allotted: MAX, subtreeIssued: MAX });
  });

  it('needs the parent node of the period, except for the city', async () => {
    let err = await grpcError(set(city, '2030-04', 10n, A));
    expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'PARENT_BUDGET_NOT_SET']);
    await set(city, '2030-04', 10n);
    err = await grpcError(set(opA, '2030-04', 1n, A, P));
    expect(errorCode(err)).toBe('PARENT_BUDGET_NOT_SET');
    err = await grpcError(get(city, '2030-04', A));
    expect([err.code, errorCode(err)]).toEqual([status.NOT_FOUND, 'BUDGET_NOT_FOUND']);
  });

  it('charges the issuing node of the period of the moment, and refuses what it has not', async () => {
    const period = '2030-05';
    await hierarchy(period);
    expect(await domainCode(charge('2030-06', 1n))).toBe('failed_precondition BUDGET_NOT_SET');
    expect(await domainCode(charge(period, 1n, { operatorId: A, projectId: 'proj-none' }))).toBe(
      'failed_precondition BUDGET_NOT_SET',
    );
    expect(await domainCode(charge(period, 401n))).toBe('failed_precondition BUDGET_EXCEEDED');
    expect(await domainCode(charge(period, 201n, { operatorId: A }))).toBe(
      'failed_precondition BUDGET_EXCEEDED',
    );
    // the period is the city's month (UTC+8): 2030-05-31T16:00Z is June 1 in the city
    await set(city, '2030-06', 5n);
    await set(city, '2030-06', 5n, A);
    const june = await withTransaction(h.pool, (c) =>
      budgets.charge(c, { operatorId: A }, new Date('2030-05-31T16:00:00Z'), 5n),
    );
    expect((await get(city, '2030-06', A)).issued).toBe(5n);
    // the refused charge failed its transaction: nothing it would have written is there
    await expect(
      withTransaction(h.pool, async (c) => {
        await c.query(
          `INSERT INTO budgets (budget_id, period, level, updated_by) VALUES (gen_random_uuid(), '2030-12', 'CITY', 't')`,
        );
        await budgets.charge(c, { operatorId: A, projectId: P }, new Date('2030-05-15T00:00:00Z'), 10_000n);
      }),
    ).rejects.toThrow(DomainError);
    expect((await h.pool.query(`SELECT 1 FROM budgets WHERE period = '2030-12'`)).rowCount).toBe(0);
    expect(june).toMatch(/^[0-9a-f-]{36}$/);
    expect(await get(projP, period, A, P)).toMatchObject({ issued: 0n });
  });

  it('lets only the city set the city and operators, an operator its projects; reads per tenancy', async () => {
    const period = '2030-07';
    await hierarchy(period);
    const before = await counts();
    const denied = [
      set(opA, period, 10n), // the city's
      set(opA, period, 700n, A), // its own operator budget is the city's to set
      set(opA, period, 10n, B), // another operator's
      set(opB, period, 10n, A, P), // another operator's project
      set(projP, period, 10n, A, P), // a project client does not set its own budget
      get(opA, period), // the city's
      get(opA, period, B),
      get(opB, period, A, P),
      get(projP, period, A), // its operator's
      get(projP, period, A, 'proj-other'),
      opA.listBudgets({ tenancy: tenancy(), period, page: undefined }),
      opB.listBudgets({ tenancy: tenancy(A), period, page: undefined }),
      projP.listBudgets({ tenancy: tenancy(A), period, page: undefined }), // its siblings
    ];
    for (const call of denied) {
      const err = await grpcError(call);
      expect([err.code, errorCode(err)]).toEqual([status.PERMISSION_DENIED, 'TENANCY_FORBIDDEN']);
    }
    expect(await counts()).toEqual(before);
    // what each may do
    expect((await get(projP, period, A, P)).allotted).toBe(400n);
    expect((await get(opA, period, A)).allotted).toBe(600n);
    expect((await opA.listBudgets({ tenancy: tenancy(A), period, page: undefined })).budgets).toHaveLength(1);
    expect((await set(city, period, 500n, A, P)).budget?.allotted).toBe(500n); // the city may, too
  });

  it('validates requests, naming the field', async () => {
    // thunks: a call made only when its turn comes, so no rejection waits unhandled
    const cases: [() => Promise<unknown>, string][] = [
      [
        () => city.setBudget({ requestId: '', tenancy: tenancy(), period: '2030-08', allotted: 1n }),
        'request_id',
      ],
      [
        () => city.setBudget({ requestId: 'r', tenancy: tenancy(), period: '2030-13', allotted: 1n }),
        'period',
      ],
      [() => city.setBudget({ requestId: 'r', tenancy: tenancy(), period: '', allotted: 1n }), 'period'],
      [
        () => city.setBudget({ requestId: 'r', tenancy: tenancy(), period: '2030-08', allotted: -1n }),
        'allotted',
      ],
      [
        () => city.setBudget({ requestId: 'r', tenancy: tenancy('', P), period: '2030-08', allotted: 1n }),
        'tenancy.operator_id',
      ],
      [
        () => city.setBudget({ requestId: 'r', tenancy: tenancy('op a'), period: '2030-08', allotted: 1n }),
        'tenancy.operator_id',
      ],
      [
        () =>
          city.setBudget({
            requestId: 'r',
            tenancy: { operatorId: A, projectId: P, merchantId: 'm' },
            period: '2030-08',
            allotted: 1n,
          }),
        'tenancy.merchant_id',
      ],
      [() => city.getBudget({ tenancy: tenancy(A), period: '2030-8' }), 'period'],
      [
        () => city.listBudgets({ tenancy: tenancy(A, P), period: '2030-08', page: undefined }),
        'tenancy.project_id',
      ],
      [
        () =>
          city.listBudgets({ tenancy: tenancy(), period: '2030-08', page: { pageSize: 501, pageToken: '' } }),
        'page.page_size',
      ],
      [
        () =>
          city.listBudgets({
            tenancy: tenancy(),
            period: '2030-08',
            page: { pageSize: 1, pageToken: 'eyJ2IjoxfQ' },
          }),
        'page.page_token',
      ],
    ];
    for (const [call, field] of cases) {
      const err = await grpcError(call());
      expect([err.code, errorField(err)]).toEqual([status.INVALID_ARGUMENT, field]);
    }
  });

  it('answers a repeated SetBudget with the budget as it is now; another body under the same id is refused', async () => {
    const period = '2030-09';
    await set(city, period, 100n);
    const req = { requestId: uniqueName('r'), tenancy: tenancy(A), period, allotted: 60n };
    expect((await city.setBudget(req)).budget?.allotted).toBe(60n);
    await set(city, period, 70n, A);
    expect((await city.setBudget(req)).budget?.allotted).toBe(70n);
    expect((await get(city, period)).allottedToChildren).toBe(70n);
    const err = await grpcError(city.setBudget({ ...req, allotted: 61n }));
    expect([err.code, errorCode(err)]).toEqual([status.ALREADY_EXISTS, 'REQUEST_ID_REUSED']);
  });

  it('pages the children of a node with the platform page tokens', async () => {
    const period = '2030-10';
    await set(city, period, 100n);
    await set(city, period, 100n, A);
    const projects = ['p-1', 'p-2', 'p-3', 'p-4', 'p-5'];
    for (const p of projects) await set(opA, period, 10n, A, p);
    const seen: string[] = [];
    let pageToken = '';
    for (let i = 0; i < 10; i++) {
      const r = await opA.listBudgets({ tenancy: tenancy(A), period, page: { pageSize: 2, pageToken } });
      seen.push(...r.budgets.map((b) => b.tenancy!.projectId));
      pageToken = r.page!.nextPageToken;
      if (pageToken === '') break;
    }
    expect(seen).toEqual(projects);
  });

  it('holds every node within its allotment under 200 parallel charges, reversals and budget changes', async () => {
    const period = '2031-05';
    await set(city, period, 1_000_000n);
    await set(city, period, 100_000n, A);
    await set(opA, period, 10_000n, A, P);
    // a seeded generator: the same sizes every run
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const charged: bigint[] = [];
    const uncharged: bigint[] = [];
    let exceeded = 0;
    const at = new Date('2031-05-20T12:00:00+08:00');
    const charges = Array.from({ length: 200 }, () => BigInt(100 + rnd(100))).map(async (points, i) => {
      try {
        const budgetId = await withTransaction(h.pool, (c) =>
          budgets.charge(c, { operatorId: A, projectId: P }, at, points),
        );
        charged.push(points);
        if (i % 4 === 0) {
          const back = points / 2n;
          await withTransaction(h.pool, (c) => budgets.uncharge(c, budgetId, back));
          uncharged.push(back);
        }
      } catch (err) {
        if (err instanceof DomainError && err.code === 'BUDGET_EXCEEDED') exceeded++;
        else throw err;
      }
    });
    const changes = Array.from({ length: 40 }, (_, i) => {
      const call =
        i % 2 === 0
          ? set(opA, period, BigInt(5_000 + rnd(10_000)), A, P)
          : set(city, period, BigInt(20_000 + rnd(100_000)), A);
      return call.then(
        () => 'ok',
        (err: Parameters<typeof errorCode>[0]) => errorCode(err) ?? String(err),
      );
    });
    const outcomes = await Promise.all([...charges, ...changes]);
    const changeOutcomes = outcomes.slice(200);
    for (const o of changeOutcomes) expect(['ok', 'BUDGET_BELOW_USE', 'PARENT_BUDGET_EXCEEDED']).toContain(o);

    const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
    const p = await get(opA, period, A, P);
    expect(charged.length).toBeGreaterThan(0);
    expect(exceeded).toBeGreaterThan(0); // 200 charges of 100-199 ask for more than 15 000
    expect(charged.length + exceeded).toBe(200);
    expect(p.issued).toBe(sum(charged) - sum(uncharged));
    expect(p.issued + p.allottedToChildren).toBeLessThanOrEqual(p.allotted);
    const a = await get(opA, period, A);
    expect(a.allottedToChildren).toBe(p.allotted);
    expect((await get(city, period)).allottedToChildren).toBe(a.allotted);
    expect((await checkBudgetInvariants(h.pool)).violations).toEqual([]);
  });
});
