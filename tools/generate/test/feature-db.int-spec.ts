import { join } from 'path';
import {
  CitybaseClaims,
  createLogger,
  createPool,
  DomainError,
  Mutations,
  platformMigrations,
  Pool,
  runMigrations,
} from '@citybase/platform';
import { createTestDatabase, TestDatabase } from '@citybase/platform/testing';
import { generateFeature } from '../src/feature';
import { scratchTree } from '../src/testing';

/**
 * A generated feature room works, not only compiles: generated into a scratch copy of a stub
 * service inside the workspace (so its imports resolve), its migration applied to a real
 * PostgreSQL database with the platform's, and its example use cases called: the mutations'
 * idempotency and replay, the target's tenancy check, the domain rule, the paged list.
 */

interface Row {
  voucher_id: string;
  operator_id: string;
  name: string;
  status: string;
}
interface VouchersService {
  createVoucher(claims: CitybaseClaims, cmd: object): Promise<Row>;
  archiveVoucher(claims: CitybaseClaims, cmd: object): Promise<Row>;
  getVoucher(claims: CitybaseClaims, id: string): Promise<Row>;
  listVouchers(claims: CitybaseClaims, q: object): Promise<{ items: Row[]; nextPageToken: string }>;
}

const claimsOf = (operator: string): CitybaseClaims => ({
  sub: `client-${operator}`,
  scope: 'iot:write iot:read',
  city: 'test-city',
  tenancy: { operators: [operator] },
  exp: Math.floor(Date.now() / 1000) + 600,
  iat: Math.floor(Date.now() / 1000),
  jti: `jti-${operator}`,
});
const A = claimsOf('op-a');
const B = claimsOf('op-b');

async function refusal(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe('a generated feature room against PostgreSQL', () => {
  const tree = scratchTree(
    ['services/iot/src', 'services/iot/migrations'],
    join(__dirname, '..', '.scratch'),
  );
  let db: TestDatabase;
  let pool: Pool;
  let vouchers: VouchersService;
  let domain: { toCreateVoucherCommand(req: object): object; toListVouchersQuery(req: object): object };

  beforeAll(async () => {
    await generateFeature(tree, 'iot', 'vouchers');
    db = await createTestDatabase('generate');
    pool = createPool(db.url);
    await runMigrations(pool, [
      platformMigrations,
      { namespace: 'iot', dir: tree.path('services/iot/migrations') },
    ]);
    const notUsed = { enqueue: () => Promise.reject(new Error('the example emits no event')) };
    const mutations = new Mutations(pool, notUsed, createLogger('generate-test', 'silent'));
    // the room exists only at run time: required from the scratch tree
    const { VouchersService } = require(tree.path('services/iot/src/vouchers/vouchers.service.ts'));
    domain = require(tree.path('services/iot/src/vouchers/vouchers.domain.ts'));
    vouchers = new VouchersService(pool, mutations);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
    tree.dispose();
  });

  const create = (claims: CitybaseClaims, requestId: string, name: string, operatorId = 'op-a') =>
    vouchers.createVoucher(
      claims,
      domain.toCreateVoucherCommand({ requestId, tenancy: { operatorId }, name }),
    );

  it('creates once per request id: a retry answers the same row, another request with it is refused', async () => {
    const first = await create(A, 'r-1', 'First');
    expect(first).toMatchObject({ operator_id: 'op-a', name: 'First', status: 'active' });
    expect(await create(A, 'r-1', 'First')).toEqual(first);
    const reused = await refusal(create(A, 'r-1', 'Other'));
    expect([reused.kind, reused.code]).toEqual(['already_exists', 'REQUEST_ID_REUSED']);
    const foreign = await refusal(create(B, 'r-9', 'Theirs', 'op-a'));
    expect([foreign.kind, foreign.code]).toEqual(['permission_denied', 'TENANCY_FORBIDDEN']);
  });

  it("archives through the target: another tenant's row is NOT_FOUND, a retry replays, the rule refuses a second archive", async () => {
    const v = await create(A, 'r-2', 'Second');
    const missing = await refusal(vouchers.archiveVoucher(B, { requestId: 'b-1', voucherId: v.voucher_id }));
    expect([missing.kind, missing.code]).toEqual(['not_found', 'VOUCHER_NOT_FOUND']);
    expect((await vouchers.getVoucher(A, v.voucher_id)).status).toBe('active');
    const hidden = await refusal(vouchers.getVoucher(B, v.voucher_id));
    expect([hidden.kind, hidden.code]).toEqual(['not_found', 'VOUCHER_NOT_FOUND']);

    const archived = await vouchers.archiveVoucher(A, { requestId: 'a-1', voucherId: v.voucher_id });
    expect(archived.status).toBe('archived');
    expect(await vouchers.archiveVoucher(A, { requestId: 'a-1', voucherId: v.voucher_id })).toEqual(archived);
    const again = await refusal(vouchers.archiveVoucher(A, { requestId: 'a-2', voucherId: v.voucher_id }));
    expect([again.kind, again.code]).toEqual(['failed_precondition', 'VOUCHER_NOT_ACTIVE']);
  });

  it("lists the caller's rows newest first, page by page, and none of another tenant's", async () => {
    for (const i of [1, 2, 3]) await create(A, `l-${i}`, `Listed ${i}`);
    const all: Row[] = [];
    let token = '';
    do {
      const page = await vouchers.listVouchers(
        A,
        domain.toListVouchersQuery({ page: { pageSize: 2, pageToken: token } }),
      );
      expect(page.items.length).toBeLessThanOrEqual(2);
      all.push(...page.items);
      token = page.nextPageToken;
    } while (token !== '');
    expect(all.map((r) => r.name).slice(0, 3)).toEqual(['Listed 3', 'Listed 2', 'Listed 1']);
    expect(new Set(all.map((r) => r.voucher_id)).size).toBe(all.length);
    expect(all.length).toBe((await pool.query("SELECT 1 FROM vouchers WHERE operator_id = 'op-a'")).rowCount);
    expect((await vouchers.listVouchers(B, domain.toListVouchersQuery({}))).items).toEqual([]);
  });
});
