import { randomUUID } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import type { Client } from 'pg';
import { IdentityEvents } from '@citybase/contracts/events';
import {
  AgencyKind,
  Merchant,
  MerchantStatus,
  ProjectKind,
  RegisterMerchantRequest,
  SetMerchantStatusRequest,
  TenancyServiceService,
} from '@citybase/contracts/citybase/identity/v1/tenancy';
import {
  PromiseClient,
  ServiceHarness,
  ServiceUnderTest,
  startServiceHarness,
  TestIssuer,
  uniqueName,
} from '@citybase/platform/testing';
import { definition } from '../src/definition';
import {
  Caller,
  cityAdmin,
  counts,
  errorField,
  eventTypes,
  failure,
  idNumber,
  insertStaff,
  json,
  phone,
  tenantClient,
} from './tenancy-helpers';

const {
  MERCHANT_STATUS_PENDING: PENDING,
  MERCHANT_STATUS_ACTIVE: ACTIVE,
  MERCHANT_STATUS_SUSPENDED: SUSPENDED,
} = MerchantStatus;

describe('identity TenancyService over gRPC (in-process service, PostgreSQL, Kafka)', () => {
  let h: ServiceHarness;
  let issuer: TestIssuer;
  let svc: ServiceUnderTest;
  let pg: Client;
  let tenancy: PromiseClient<typeof TenancyServiceService>;
  let admin: Caller;

  beforeAll(async () => {
    h = await startServiceHarness({
      definition,
      grpcService: TenancyServiceService,
      label: 'identity_tenancy',
    });
    ({ issuer, svc, pg } = h);
    tenancy = h.client(TenancyServiceService);
    admin = cityAdmin(issuer);
  });

  afterAll(async () => {
    await h?.stop();
  });

  // ---- builders --------------------------------------------------------------------------------

  const rid = () => uniqueName('req');

  async function operator(name = uniqueName('Operator')): Promise<string> {
    const { operator: op } = await tenancy.createOperator({ requestId: rid(), name }, admin.metadata());
    return op!.operatorId;
  }

  /** A valid CreateProject request under the operator, with a fresh request id and name. */
  function projectRequest(operatorId: string, over: { name?: string; kind?: ProjectKind } = {}) {
    return {
      requestId: rid(),
      operatorId,
      name: uniqueName('Project'),
      kind: ProjectKind.PROJECT_KIND_RESIDENTIAL,
      ...over,
    };
  }

  async function project(
    operatorId: string,
    caller: Caller = admin,
    name = uniqueName('Project'),
  ): Promise<string> {
    const { project: p } = await tenancy.createProject(
      projectRequest(operatorId, { name }),
      caller.metadata(),
    );
    return p!.projectId;
  }

  async function building(
    projectId: string,
    caller: Caller = admin,
    name = uniqueName('Block'),
  ): Promise<string> {
    const { building: b } = await tenancy.createBuilding(
      { requestId: rid(), projectId, name },
      caller.metadata(),
    );
    return b!.buildingId;
  }

  async function unit(
    buildingId: string,
    caller: Caller = admin,
    name = uniqueName('Unit'),
  ): Promise<string> {
    const { unit: u } = await tenancy.createUnit(
      { requestId: rid(), buildingId, name, floor: 3 },
      caller.metadata(),
    );
    return u!.unitId;
  }

  function merchantRequest(projectId: string, staffId: string, over: Partial<RegisterMerchantRequest> = {}) {
    return {
      requestId: rid(),
      projectId,
      name: uniqueName('Noodle House'),
      location: 'Building 3, ground floor, west side',
      unitId: '',
      ownerName: 'Li Wei',
      ownerIdNumber: idNumber(),
      contactPhone: phone(),
      leaseRef: 'LEASE-2026-0042',
      businessScope: 'noodles, tea and soft drinks',
      photoRefs: ['merchants/shopfront.jpg', 'merchants/licence.jpg'],
      registeredByStaffId: staffId,
      ...over,
    } satisfies RegisterMerchantRequest;
  }

  function statusRequest(
    merchantId: string,
    staffId: string,
    to: MerchantStatus,
    reason = 'checked by property',
  ) {
    return {
      requestId: rid(),
      merchantId,
      status: to,
      reason,
      changedByStaffId: staffId,
    } satisfies SetMerchantStatusRequest;
  }

  /** A project with a building, a unit and an active property staff member, under a new operator. */
  async function tree(): Promise<{
    operatorId: string;
    projectId: string;
    buildingId: string;
    unitId: string;
    staffId: string;
  }> {
    const operatorId = await operator();
    const projectId = await project(operatorId);
    const buildingId = await building(projectId);
    const unitId = await unit(buildingId);
    const staffId = await insertStaff(pg, { operatorId, projectId, role: 1 });
    return { operatorId, projectId, buildingId, unitId, staffId };
  }

  async function merchant(
    t: { projectId: string; staffId: string },
    caller: Caller = admin,
    over: Partial<RegisterMerchantRequest> = {},
  ): Promise<Merchant> {
    return (await tenancy.registerMerchant(merchantRequest(t.projectId, t.staffId, over), caller.metadata()))
      .merchant!;
  }

  // ---- 1. happy path -----------------------------------------------------------------------------

  it('builds operator > project > building > unit > merchant, moves the merchant through its statuses, and writes one event per change', async () => {
    const opName = uniqueName('Green Property');
    const { operator: op } = await tenancy.createOperator(
      { requestId: rid(), name: opName },
      admin.metadata(),
    );
    expect(op).toMatchObject({ name: opName });
    const operatorId = op!.operatorId;
    const opClient = tenantClient(issuer, { operators: [operatorId] });

    const { project: p } = await tenancy.createProject(
      { requestId: rid(), operatorId, name: 'Lakeside Gardens', kind: ProjectKind.PROJECT_KIND_RESIDENTIAL },
      opClient.metadata(),
    );
    expect(p).toMatchObject({
      operatorId,
      name: 'Lakeside Gardens',
      kind: ProjectKind.PROJECT_KIND_RESIDENTIAL,
    });
    const projectId = p!.projectId;

    const { building: b } = await tenancy.createBuilding(
      { requestId: rid(), projectId, name: 'Block 1' },
      opClient.metadata(),
    );
    expect(b).toEqual({ buildingId: b!.buildingId, projectId, operatorId, name: 'Block 1', units: [] });

    const { unit: u } = await tenancy.createUnit(
      { requestId: rid(), buildingId: b!.buildingId, name: '1-302', floor: -2 },
      opClient.metadata(),
    );
    expect(u).toEqual({ unitId: u!.unitId, buildingId: b!.buildingId, name: '1-302', floor: -2 });
    const { rows: unitRows } = await pg.query(
      'SELECT project_id, operator_id FROM units WHERE unit_id = $1',
      [u!.unitId],
    );
    expect(unitRows).toEqual([{ project_id: projectId, operator_id: operatorId }]);

    const staffId = await insertStaff(pg, { operatorId, projectId, role: 1 });
    const req = merchantRequest(projectId, staffId, { unitId: u!.unitId });
    const { merchant: m } = await tenancy.registerMerchant(req, opClient.metadata());
    expect(m).toMatchObject({
      operatorId,
      projectId,
      name: req.name,
      status: PENDING,
      location: req.location,
      unitId: u!.unitId,
      ownerName: 'Li Wei',
      leaseRef: req.leaseRef,
      businessScope: req.businessScope,
      photoRefs: req.photoRefs,
      registeredByStaffId: staffId,
      statusReason: '',
      statusChangedAt: undefined,
    });
    const merchantId = m!.merchantId;

    const activated = await tenancy.setMerchantStatus(
      statusRequest(merchantId, staffId, ACTIVE, 'lease signed'),
      opClient.metadata(),
    );
    expect(activated.merchant).toMatchObject({ status: ACTIVE, statusReason: 'lease signed' });
    expect(activated.merchant!.statusChangedAt).toBeDefined();
    const suspended = await tenancy.setMerchantStatus(
      statusRequest(merchantId, staffId, SUSPENDED, 'fire exit blocked'),
      opClient.metadata(),
    );
    expect(suspended.merchant).toMatchObject({ status: SUSPENDED, statusReason: 'fire exit blocked' });
    const reactivated = await tenancy.setMerchantStatus(
      statusRequest(merchantId, staffId, ACTIVE, 'fire exit cleared'),
      opClient.metadata(),
    );
    expect(reactivated.merchant).toMatchObject({ status: ACTIVE, statusReason: 'fire exit cleared' });

    // reads
    expect((await tenancy.getOperator({ operatorId }, opClient.metadata())).operator).toEqual(op);
    expect((await tenancy.getProject({ projectId }, opClient.metadata())).project).toEqual(p);
    expect((await tenancy.listOperators({ page: undefined }, opClient.metadata())).operators).toEqual([op]);
    expect(
      (await tenancy.listProjects({ operatorId, page: undefined }, opClient.metadata())).projects,
    ).toEqual([p]);
    expect(
      (await tenancy.listBuildings({ projectId, page: undefined }, opClient.metadata())).buildings,
    ).toEqual([{ ...b, units: [u] }]);
    expect((await tenancy.getMerchant({ merchantId }, opClient.metadata())).merchant).toEqual(
      reactivated.merchant,
    );
    expect(
      (await tenancy.listMerchants({ projectId, page: undefined }, opClient.metadata())).merchants,
    ).toEqual([reactivated.merchant]);
    const admins = await tenancy.listOperators({ page: { pageSize: 500, pageToken: '' } }, admin.metadata());
    expect(admins.operators).toContainEqual(op);

    // one event per change, keyed by the operator, in order
    expect(await eventTypes(pg, operatorId)).toEqual([
      IdentityEvents.OperatorCreated.type,
      IdentityEvents.ProjectCreated.type,
      IdentityEvents.BuildingCreated.type,
      IdentityEvents.UnitCreated.type,
      IdentityEvents.MerchantRegistered.type,
      IdentityEvents.MerchantStatusChanged.type,
      IdentityEvents.MerchantStatusChanged.type,
      IdentityEvents.MerchantStatusChanged.type,
    ]);
    const { rows: changes } = await pg.query<{ payload: Buffer; headers: Record<string, string> }>(
      'SELECT payload, headers FROM outbox WHERE partition_key = $1 AND event_type = $2 ORDER BY id',
      [operatorId, IdentityEvents.MerchantStatusChanged.type],
    );
    expect(changes.map((c) => IdentityEvents.MerchantStatusChanged.codec.decode(c.payload))).toMatchObject([
      {
        merchantId,
        projectId,
        operatorId,
        previousStatus: PENDING,
        status: ACTIVE,
        changedByStaffId: staffId,
      },
      { previousStatus: ACTIVE, status: SUSPENDED, reason: 'fire exit blocked' },
      { previousStatus: SUSPENDED, status: ACTIVE, reason: 'fire exit cleared' },
    ]);
    expect(JSON.parse(changes[0]!.headers.citybase_tenant!)).toEqual({ operatorId, projectId, merchantId });
  });

  it('creates and lists agencies (city administrator only)', async () => {
    const name = uniqueName('Tax Bureau');
    const { agency } = await tenancy.createAgency(
      { requestId: rid(), name, kind: AgencyKind.AGENCY_KIND_TAX },
      admin.metadata(),
    );
    expect(agency).toMatchObject({ name, kind: AgencyKind.AGENCY_KIND_TAX });
    expect(await eventTypes(pg, agency!.agencyId)).toEqual([IdentityEvents.AgencyCreated.type]);
    const all = [];
    let pageToken = '';
    do {
      const res = await tenancy.listAgencies({ page: { pageSize: 1, pageToken } }, admin.metadata());
      all.push(...res.agencies);
      pageToken = res.page!.nextPageToken;
    } while (pageToken !== '');
    expect(all).toContainEqual(agency);
  });

  it('pages through long lists without repeating or skipping a row', async () => {
    const operatorId = await operator();
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push(await project(operatorId));
    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const res = await tenancy.listProjects(
        { operatorId, page: { pageSize: 3, pageToken } },
        admin.metadata(),
      );
      expect(res.projects.length).toBeLessThanOrEqual(3);
      seen.push(...res.projects.map((p) => p.projectId));
      pageToken = res.page!.nextPageToken;
      pages++;
    } while (pageToken !== '');
    expect(seen).toEqual(created);
    expect(pages).toBe(3);

    const projectId = created[0]!;
    const buildings: string[] = [];
    for (let i = 0; i < 3; i++) buildings.push(await building(projectId));
    await unit(buildings[1]!);
    await unit(buildings[1]!);
    const first = await tenancy.listBuildings(
      { projectId, page: { pageSize: 2, pageToken: '' } },
      admin.metadata(),
    );
    expect(first.buildings.map((b) => [b.buildingId, b.units.length])).toEqual([
      [buildings[0], 0],
      [buildings[1], 2],
    ]);
    const second = await tenancy.listBuildings(
      { projectId, page: { pageSize: 2, pageToken: first.page!.nextPageToken } },
      admin.metadata(),
    );
    expect(second.buildings.map((b) => b.buildingId)).toEqual([buildings[2]]);
    expect(second.page!.nextPageToken).toBe('');
  });

  // ---- 2. idempotency -----------------------------------------------------------------------------

  describe('idempotency', () => {
    it('answers a repeated request with the same resource, one row and one event', async () => {
      const operatorId = await operator();
      const req = projectRequest(operatorId, { kind: ProjectKind.PROJECT_KIND_PARK });
      const first = await tenancy.createProject(req, admin.metadata());
      const before = await counts(pg);
      const again = await tenancy.createProject(req, admin.metadata());
      expect(again).toEqual(first);
      expect(await counts(pg)).toEqual(before);
      expect(await eventTypes(pg, operatorId)).toEqual([
        IdentityEvents.OperatorCreated.type,
        IdentityEvents.ProjectCreated.type,
      ]);
    });

    it('refuses the same request id with a different body with ALREADY_EXISTS, writing nothing', async () => {
      const operatorId = await operator();
      const req = projectRequest(operatorId, { kind: ProjectKind.PROJECT_KIND_PARK });
      await tenancy.createProject(req, admin.metadata());
      const before = await counts(pg);
      const err = await failure(tenancy.createProject({ ...req, name: 'something else' }, admin.metadata()));
      expect(err.code).toBe(status.ALREADY_EXISTS);
      expect(err.details).toBe('request_id: already used for a different request');
      expect(errorField(err)).toBe('request_id');
      expect(await counts(pg)).toEqual(before);
    });

    it('keeps request ids per client: another client with the same id creates its own resource', async () => {
      const operatorId = await operator();
      const req = projectRequest(operatorId, { kind: ProjectKind.PROJECT_KIND_PARK });
      const mine = await tenancy.createProject(req, admin.metadata());
      const theirs = await tenancy.createProject(req, cityAdmin(issuer).metadata());
      expect(theirs.project!.projectId).not.toBe(mine.project!.projectId);
    });

    it('turns 20 concurrent identical CreateProject calls into one project and one event', async () => {
      const operatorId = await operator();
      const req = projectRequest(operatorId, { kind: ProjectKind.PROJECT_KIND_FARM });
      const results = await Promise.all(
        Array.from({ length: 20 }, () => tenancy.createProject(req, admin.metadata())),
      );
      expect(new Set(results.map((r) => r.project!.projectId)).size).toBe(1);
      const { rows } = await pg.query('SELECT count(*)::int AS n FROM projects WHERE name = $1', [req.name]);
      expect(rows[0].n).toBe(1);
      expect(await eventTypes(pg, operatorId)).toEqual([
        IdentityEvents.OperatorCreated.type,
        IdentityEvents.ProjectCreated.type,
      ]);
    });

    it('replays RegisterMerchant and SetMerchantStatus without a second change or event', async () => {
      const t = await tree();
      const reg = merchantRequest(t.projectId, t.staffId);
      const first = await tenancy.registerMerchant(reg, admin.metadata());
      const activate = statusRequest(first.merchant!.merchantId, t.staffId, ACTIVE);
      const activated = await tenancy.setMerchantStatus(activate, admin.metadata());
      const before = await counts(pg);
      expect((await tenancy.registerMerchant(reg, admin.metadata())).merchant!.merchantId).toBe(
        first.merchant!.merchantId,
      );
      // active > active would be refused as a new change; as a replay it answers the merchant
      expect(await tenancy.setMerchantStatus(activate, admin.metadata())).toEqual(activated);
      expect(await counts(pg)).toEqual(before);
      const err = await failure(
        tenancy.setMerchantStatus({ ...activate, reason: 'other' }, admin.metadata()),
      );
      expect(err.code).toBe(status.ALREADY_EXISTS);
    });

    it('refuses a second building or unit of the same name with ALREADY_EXISTS naming the field', async () => {
      const t = await tree();
      const before = await counts(pg);
      const dupBuilding = await failure(
        tenancy.createBuilding(
          { requestId: rid(), projectId: t.projectId, name: (await buildingName(t.buildingId))! },
          admin.metadata(),
        ),
      );
      expect(dupBuilding.code).toBe(status.ALREADY_EXISTS);
      expect(dupBuilding.details).toMatch(/^name: /);
      expect(errorField(dupBuilding)).toBe('name');
      const { rows } = await pg.query<{ name: string }>('SELECT name FROM units WHERE unit_id = $1', [
        t.unitId,
      ]);
      const dupUnit = await failure(
        tenancy.createUnit(
          { requestId: rid(), buildingId: t.buildingId, name: rows[0]!.name, floor: 1 },
          admin.metadata(),
        ),
      );
      expect(dupUnit.code).toBe(status.ALREADY_EXISTS);
      expect(errorField(dupUnit)).toBe('name');
      expect(await counts(pg)).toEqual(before);
      // the same names are fine elsewhere
      const otherProject = await project(t.operatorId);
      await building(otherProject, admin, (await buildingName(t.buildingId))!);
    });
  });

  async function buildingName(buildingId: string): Promise<string | undefined> {
    const { rows } = await pg.query<{ name: string }>('SELECT name FROM buildings WHERE building_id = $1', [
      buildingId,
    ]);
    return rows[0]?.name;
  }

  // ---- 3. bad input ------------------------------------------------------------------------------

  describe('bad input on every RPC', () => {
    type Call = (md: Metadata) => Promise<unknown>;
    let cases: [string, Call, string][];
    let t: Awaited<ReturnType<typeof tree>>;
    let merchantId: string;

    beforeAll(async () => {
      t = await tree();
      merchantId = (await merchant(t)).merchantId;
      const long = (n: number) => 'x'.repeat(n);
      const badToken = { pageSize: 0, pageToken: 'not-a-token' };
      const forgedToken = {
        pageSize: 0,
        pageToken: Buffer.from('{"created_at":"yesterday","id":"1"}').toString('base64url'),
      };
      // tokens in the shape the server issues, forged: a day that does not exist, another list's
      const token = (list: string, createdAt: string) => ({
        pageSize: 0,
        pageToken: Buffer.from(
          JSON.stringify({ v: 1, l: `identity.${list}`, k: [createdAt, randomUUID()] }),
        ).toString('base64url'),
      });
      const february30 = token('operators', '2026-02-30T00:00:00.000000Z');
      const projectsToken = token('projects', '2026-01-02T03:04:05.123456Z');
      const op = (over: object) => (md: Metadata) =>
        tenancy.createOperator({ requestId: rid(), name: 'Op', ...over }, md);
      const proj = (over: object) => (md: Metadata) =>
        tenancy.createProject(
          { requestId: rid(), operatorId: t.operatorId, name: 'P', kind: 1, ...over },
          md,
        );
      const bld = (over: object) => (md: Metadata) =>
        tenancy.createBuilding({ requestId: rid(), projectId: t.projectId, name: 'B', ...over }, md);
      const unt = (over: object) => (md: Metadata) =>
        tenancy.createUnit({ requestId: rid(), buildingId: t.buildingId, name: 'U', floor: 1, ...over }, md);
      const reg = (over: Partial<RegisterMerchantRequest>) => (md: Metadata) =>
        tenancy.registerMerchant(merchantRequest(t.projectId, t.staffId, over), md);
      const set = (over: Partial<SetMerchantStatusRequest>) => (md: Metadata) =>
        tenancy.setMerchantStatus({ ...statusRequest(merchantId, t.staffId, ACTIVE), ...over }, md);
      const agency = (over: object) => (md: Metadata) =>
        tenancy.createAgency({ requestId: rid(), name: 'Agency', kind: 1, ...over }, md);
      cases = [
        ['CreateOperator: empty request_id', op({ requestId: '' }), 'request_id'],
        ['CreateOperator: request_id with spaces', op({ requestId: 'a b' }), 'request_id'],
        ['CreateOperator: empty name', op({ name: '' }), 'name'],
        ['CreateOperator: name of 201', op({ name: long(201) }), 'name'],
        // regression: a NUL byte reached PostgreSQL (22021) and the caller got INTERNAL
        ['CreateOperator: NUL in name', op({ name: 'Alpha\u0000Co' }), 'name'],
        ['CreateOperator: NUL in request_id', op({ requestId: `${rid()}\u0000` }), 'request_id'],
        ['GetOperator: empty id', (md) => tenancy.getOperator({ operatorId: '' }, md), 'operator_id'],
        ['GetOperator: malformed id', (md) => tenancy.getOperator({ operatorId: 'op-1' }, md), 'operator_id'],
        [
          'ListOperators: page_size 501',
          (md) => tenancy.listOperators({ page: { pageSize: 501, pageToken: '' } }, md),
          'page.page_size',
        ],
        [
          'ListOperators: bad page token',
          (md) => tenancy.listOperators({ page: badToken }, md),
          'page.page_token',
        ],
        [
          'ListOperators: forged page token',
          (md) => tenancy.listOperators({ page: forgedToken }, md),
          'page.page_token',
        ],
        [
          'ListOperators: page token naming 2026-02-30',
          (md) => tenancy.listOperators({ page: february30 }, md),
          'page.page_token',
        ],
        [
          'ListOperators: page token of ListProjects',
          (md) => tenancy.listOperators({ page: projectsToken }, md),
          'page.page_token',
        ],
        ['CreateProject: malformed operator_id', proj({ operatorId: 'nope' }), 'operator_id'],
        ['CreateProject: empty name', proj({ name: ' ' }), 'name'],
        ['CreateProject: name of 201', proj({ name: long(201) }), 'name'],
        ['CreateProject: UNSPECIFIED kind', proj({ kind: 0 }), 'kind'],
        ['CreateProject: unknown kind 99', proj({ kind: 99 }), 'kind'],
        ['GetProject: malformed id', (md) => tenancy.getProject({ projectId: '1234' }, md), 'project_id'],
        [
          'ListProjects: empty operator_id',
          (md) => tenancy.listProjects({ operatorId: '', page: undefined }, md),
          'operator_id',
        ],
        [
          'ListProjects: page_size -1',
          (md) =>
            tenancy.listProjects({ operatorId: t.operatorId, page: { pageSize: -1, pageToken: '' } }, md),
          'page.page_size',
        ],
        [
          'ListProjects: bad page token',
          (md) => tenancy.listProjects({ operatorId: t.operatorId, page: badToken }, md),
          'page.page_token',
        ],
        ['CreateBuilding: malformed project_id', bld({ projectId: 'p' }), 'project_id'],
        ['CreateBuilding: empty name', bld({ name: '' }), 'name'],
        ['CreateBuilding: name of 101', bld({ name: long(101) }), 'name'],
        ['CreateUnit: malformed building_id', unt({ buildingId: `${t.buildingId}x` }), 'building_id'],
        ['CreateUnit: name of 101', unt({ name: long(101) }), 'name'],
        ['CreateUnit: floor -11', unt({ floor: -11 }), 'floor'],
        ['CreateUnit: floor 301', unt({ floor: 301 }), 'floor'],
        [
          'ListBuildings: malformed project_id',
          (md) => tenancy.listBuildings({ projectId: 'x', page: undefined }, md),
          'project_id',
        ],
        [
          'ListBuildings: bad page token',
          (md) => tenancy.listBuildings({ projectId: t.projectId, page: badToken }, md),
          'page.page_token',
        ],
        ['RegisterMerchant: empty request_id', reg({ requestId: '' }), 'request_id'],
        ['RegisterMerchant: malformed project_id', reg({ projectId: 'p-1' }), 'project_id'],
        ['RegisterMerchant: empty name', reg({ name: '' }), 'name'],
        ['RegisterMerchant: location of 501', reg({ location: long(501) }), 'location'],
        ['RegisterMerchant: malformed unit_id', reg({ unitId: 'unit-7' }), 'unit_id'],
        ['RegisterMerchant: empty owner_name', reg({ ownerName: '' }), 'owner_name'],
        ['RegisterMerchant: owner_name of 101', reg({ ownerName: long(101) }), 'owner_name'],
        [
          'RegisterMerchant: ID number with a wrong check digit',
          reg({ ownerIdNumber: '110101199003074515' }),
          'owner_id_number',
        ],
        ['RegisterMerchant: ID number of 10 digits', reg({ ownerIdNumber: '1101011990' }), 'owner_id_number'],
        ['RegisterMerchant: malformed phone', reg({ contactPhone: '12812345678' }), 'contact_phone'],
        ['RegisterMerchant: empty phone', reg({ contactPhone: '' }), 'contact_phone'],
        ['RegisterMerchant: empty lease_ref', reg({ leaseRef: '' }), 'lease_ref'],
        ['RegisterMerchant: business_scope of 1001', reg({ businessScope: long(1001) }), 'business_scope'],
        [
          'RegisterMerchant: 21 photo refs',
          reg({ photoRefs: Array.from({ length: 21 }, (_, i) => `p/${i}.jpg`) }),
          'photo_refs',
        ],
        ['RegisterMerchant: empty photo ref', reg({ photoRefs: ['p/1.jpg', ''] }), 'photo_refs[1]'],
        [
          'RegisterMerchant: malformed staff id',
          reg({ registeredByStaffId: 'staff-1' }),
          'registered_by_staff_id',
        ],
        ['SetMerchantStatus: malformed merchant_id', set({ merchantId: 'm' }), 'merchant_id'],
        ['SetMerchantStatus: UNSPECIFIED status', set({ status: 0 }), 'status'],
        ['SetMerchantStatus: PENDING status', set({ status: PENDING }), 'status'],
        ['SetMerchantStatus: unknown status 99', set({ status: 99 as MerchantStatus }), 'status'],
        ['SetMerchantStatus: empty reason', set({ reason: '' }), 'reason'],
        ['SetMerchantStatus: reason of 501', set({ reason: long(501) }), 'reason'],
        ['SetMerchantStatus: malformed staff id', set({ changedByStaffId: 'x' }), 'changed_by_staff_id'],
        ['GetMerchant: malformed id', (md) => tenancy.getMerchant({ merchantId: 'zzz' }, md), 'merchant_id'],
        [
          'ListMerchants: malformed project_id',
          (md) => tenancy.listMerchants({ projectId: '', page: undefined }, md),
          'project_id',
        ],
        [
          'ListMerchants: bad page token',
          (md) => tenancy.listMerchants({ projectId: t.projectId, page: forgedToken }, md),
          'page.page_token',
        ],
        ['CreateAgency: empty name', agency({ name: '' }), 'name'],
        ['CreateAgency: NUL in name', agency({ name: 'Tax\u0000Bureau' }), 'name'],
        ['CreateAgency: UNSPECIFIED kind', agency({ kind: 0 }), 'kind'],
        ['CreateAgency: unknown kind 99', agency({ kind: 99 }), 'kind'],
        [
          'ListAgencies: page_size 1000',
          (md) => tenancy.listAgencies({ page: { pageSize: 1000, pageToken: '' } }, md),
          'page.page_size',
        ],
        [
          'ListAgencies: bad page token',
          (md) => tenancy.listAgencies({ page: badToken }, md),
          'page.page_token',
        ],
      ];
    });

    it('covers every RPC of TenancyService', () => {
      const covered = new Set(cases.map(([name]) => name.split(':')[0]));
      const rpcs = Object.values(TenancyServiceService).map((m) => m.path.split('/').pop());
      expect([...covered].sort()).toEqual([...rpcs].sort());
    });

    it('answers INVALID_ARGUMENT naming the field in message and ErrorDetail, writing nothing', async () => {
      const before = await counts(pg);
      for (const [name, call, field] of cases) {
        const err = await failure(call(admin.metadata()));
        expect({
          name,
          code: err.code,
          field: errorField(err),
          prefix: err.details.startsWith(`${field}: `),
        }).toEqual({
          name,
          code: status.INVALID_ARGUMENT,
          field,
          prefix: true,
        });
      }
      expect(await counts(pg)).toEqual(before);
    });

    it('refuses a unit of another project with INVALID_ARGUMENT unit_id, writing nothing', async () => {
      const other = await tree();
      const before = await counts(pg);
      const err = await failure(
        tenancy.registerMerchant(
          merchantRequest(t.projectId, t.staffId, { unitId: other.unitId }),
          admin.metadata(),
        ),
      );
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(errorField(err)).toBe('unit_id');
      expect(err.details).not.toContain(other.unitId);
      const unknown = await failure(
        tenancy.registerMerchant(
          merchantRequest(t.projectId, t.staffId, { unitId: randomUUID() }),
          admin.metadata(),
        ),
      );
      expect(errorField(unknown)).toBe('unit_id');
      expect(await counts(pg)).toEqual(before);
    });

    it('answers NOT_FOUND naming the field for well-formed ids of nothing, writing nothing', async () => {
      const before = await counts(pg);
      const none = randomUUID();
      // thunks: a call made only when its turn comes, so no rejection waits unhandled
      const calls: [() => Promise<unknown>, string][] = [
        [() => tenancy.getOperator({ operatorId: none }, admin.metadata()), 'operator_id'],
        [() => tenancy.getProject({ projectId: none }, admin.metadata()), 'project_id'],
        [() => tenancy.getMerchant({ merchantId: none }, admin.metadata()), 'merchant_id'],
        [
          () =>
            tenancy.createProject(
              { requestId: rid(), operatorId: none, name: 'P', kind: 1 },
              admin.metadata(),
            ),
          'operator_id',
        ],
        [
          () => tenancy.createBuilding({ requestId: rid(), projectId: none, name: 'B' }, admin.metadata()),
          'project_id',
        ],
        [
          () =>
            tenancy.createUnit({ requestId: rid(), buildingId: none, name: 'U', floor: 0 }, admin.metadata()),
          'building_id',
        ],
        [() => tenancy.registerMerchant(merchantRequest(none, t.staffId), admin.metadata()), 'project_id'],
        [
          () => tenancy.setMerchantStatus(statusRequest(none, t.staffId, ACTIVE), admin.metadata()),
          'merchant_id',
        ],
      ];
      for (const [call, field] of calls) {
        const err = await failure(call());
        expect({ code: err.code, field: errorField(err) }).toEqual({ code: status.NOT_FOUND, field });
        expect(err.details).not.toContain(none);
      }
      expect(await counts(pg)).toEqual(before);
    });
  });

  // ---- 4. tenancy --------------------------------------------------------------------------------

  describe('tenancy', () => {
    it('gives a client of operator B nothing of operator A: no data, no names, no ids, no writes', async () => {
      const aName = uniqueName('Operator A');
      const aId = (await tenancy.createOperator({ requestId: rid(), name: aName }, admin.metadata()))
        .operator!.operatorId;
      const aProjectName = uniqueName('A Project');
      const a = {
        operatorId: aId,
        projectId: await project(aId, admin, aProjectName),
        buildingId: '',
        staffId: '',
        merchantId: '',
      };
      a.buildingId = await building(a.projectId);
      a.staffId = await insertStaff(pg, { operatorId: aId, projectId: a.projectId, role: 1 });
      const aMerchantName = uniqueName('A Merchant');
      a.merchantId = (await merchant(a, admin, { name: aMerchantName })).merchantId;
      const bId = await operator();
      const bProject = await project(bId);
      const bStaff = await insertStaff(pg, { operatorId: bId, projectId: bProject, role: 1 });
      // B's client even holds city:admin and pii.read: a tenancy restriction still narrows it
      const clientB = tenantClient(issuer, { operators: [bId] }, { pii: true, extraScopes: ['city:admin'] });
      const md = () => clientB.metadata();
      const secrets = [
        aName,
        aId,
        aProjectName,
        a.projectId,
        a.buildingId,
        aMerchantName,
        a.merchantId,
        a.staffId,
      ];
      const before = await counts(pg);

      const denied: [string, Promise<unknown>, status][] = [
        ['GetOperator', tenancy.getOperator({ operatorId: aId }, md()), status.NOT_FOUND],
        ['GetProject', tenancy.getProject({ projectId: a.projectId }, md()), status.NOT_FOUND],
        ['GetMerchant', tenancy.getMerchant({ merchantId: a.merchantId }, md()), status.NOT_FOUND],
        [
          'CreateOperator',
          tenancy.createOperator({ requestId: rid(), name: 'Mine now' }, md()),
          status.PERMISSION_DENIED,
        ],
        [
          'CreateAgency',
          tenancy.createAgency({ requestId: rid(), name: 'Mine', kind: 1 }, md()),
          status.PERMISSION_DENIED,
        ],
        ['ListAgencies', tenancy.listAgencies({ page: undefined }, md()), status.PERMISSION_DENIED],
        [
          'CreateProject',
          tenancy.createProject({ requestId: rid(), operatorId: aId, name: 'Mine', kind: 1 }, md()),
          status.PERMISSION_DENIED,
        ],
        [
          'CreateBuilding',
          tenancy.createBuilding({ requestId: rid(), projectId: a.projectId, name: 'Mine' }, md()),
          status.PERMISSION_DENIED,
        ],
        [
          'CreateUnit',
          tenancy.createUnit({ requestId: rid(), buildingId: a.buildingId, name: 'Mine', floor: 1 }, md()),
          status.PERMISSION_DENIED,
        ],
        [
          'RegisterMerchant',
          tenancy.registerMerchant(merchantRequest(a.projectId, bStaff), md()),
          status.PERMISSION_DENIED,
        ],
        [
          'SetMerchantStatus',
          tenancy.setMerchantStatus(statusRequest(a.merchantId, bStaff, ACTIVE), md()),
          status.PERMISSION_DENIED,
        ],
      ];
      for (const [rpc, call, code] of denied) {
        const err = await failure(call);
        expect({ rpc, code: err.code }).toEqual({ rpc, code });
        for (const secret of secrets)
          expect(json({ rpc, details: err.details, md: err.metadata?.getMap() })).not.toContain(secret);
      }

      const lists = [
        await tenancy.listOperators({ page: undefined }, md()),
        await tenancy.listProjects({ operatorId: aId, page: undefined }, md()),
        await tenancy.listBuildings({ projectId: a.projectId, page: undefined }, md()),
        await tenancy.listMerchants({ projectId: a.projectId, page: undefined }, md()),
      ];
      expect(lists[0]).toMatchObject({ operators: [{ operatorId: bId }] });
      expect(lists.slice(1)).toEqual([
        { projects: [], page: { nextPageToken: '' } },
        { buildings: [], page: { nextPageToken: '' } },
        { merchants: [], page: { nextPageToken: '' } },
      ]);
      for (const secret of secrets) expect(json(lists)).not.toContain(secret);
      expect(await counts(pg)).toEqual(before);
      // and A's merchant is untouched
      expect(
        (await tenancy.getMerchant({ merchantId: a.merchantId }, admin.metadata())).merchant!.status,
      ).toBe(PENDING);
    });

    it('lets a project-bound client see and change only its project', async () => {
      const operatorId = await operator();
      const mine = await project(operatorId);
      const sibling = await project(operatorId);
      const client = tenantClient(issuer, { projects: [mine] });
      expect((await tenancy.getProject({ projectId: mine }, client.metadata())).project!.projectId).toBe(
        mine,
      );
      expect((await failure(tenancy.getProject({ projectId: sibling }, client.metadata()))).code).toBe(
        status.NOT_FOUND,
      );
      expect((await failure(tenancy.getOperator({ operatorId }, client.metadata()))).code).toBe(
        status.NOT_FOUND,
      );
      expect((await tenancy.listOperators({ page: undefined }, client.metadata())).operators).toEqual([]);
      expect(
        (await tenancy.listProjects({ operatorId, page: undefined }, client.metadata())).projects.map(
          (p) => p.projectId,
        ),
      ).toEqual([mine]);
      // it may build in its project, not in the sibling, and cannot add projects to the operator
      const b = await building(mine, client);
      expect(
        (await tenancy.listBuildings({ projectId: mine, page: undefined }, client.metadata())).buildings.map(
          (x) => x.buildingId,
        ),
      ).toEqual([b]);
      const before = await counts(pg);
      expect(
        (
          await failure(
            tenancy.createBuilding({ requestId: rid(), projectId: sibling, name: 'B' }, client.metadata()),
          )
        ).code,
      ).toBe(status.PERMISSION_DENIED);
      expect(
        (
          await failure(
            tenancy.createProject({ requestId: rid(), operatorId, name: 'P', kind: 1 }, client.metadata()),
          )
        ).code,
      ).toBe(status.PERMISSION_DENIED);
      expect(await counts(pg)).toEqual(before);
    });

    it('gives a client with no tenancy and no city:admin nothing', async () => {
      const nobody = tenantClient(issuer, {});
      const t = await tree();
      expect((await tenancy.listOperators({ page: undefined }, nobody.metadata())).operators).toEqual([]);
      expect(
        (await tenancy.listProjects({ operatorId: t.operatorId, page: undefined }, nobody.metadata()))
          .projects,
      ).toEqual([]);
      expect((await failure(tenancy.getProject({ projectId: t.projectId }, nobody.metadata()))).code).toBe(
        status.NOT_FOUND,
      );
      expect(
        (
          await failure(
            tenancy.createBuilding(
              { requestId: rid(), projectId: t.projectId, name: 'B' },
              nobody.metadata(),
            ),
          )
        ).code,
      ).toBe(status.PERMISSION_DENIED);
    });
  });

  // ---- 5. masking --------------------------------------------------------------------------------

  describe('personal data', () => {
    it('is masked without identity:pii.read, full with it, and never in events or logs', async () => {
      const t = await tree();
      const id = idNumber();
      const mobile = phone();
      const plain = tenantClient(issuer, { operators: [t.operatorId] });
      const reader = tenantClient(issuer, { operators: [t.operatorId] }, { pii: true });
      const registered = await tenancy.registerMerchant(
        merchantRequest(t.projectId, t.staffId, {
          ownerIdNumber: id.toLowerCase(),
          contactPhone: `+86 ${mobile.slice(0, 3)}-${mobile.slice(3, 7)}-${mobile.slice(7)}`,
        }),
        plain.metadata(),
      );
      const merchantId = registered.merchant!.merchantId;
      const masked = {
        ownerIdNumber: `${id.slice(0, 4)}**********${id.slice(-4)}`,
        contactPhone: `${mobile.slice(0, 3)}****${mobile.slice(-4)}`,
      };
      const maskedViews = [
        registered,
        await tenancy.getMerchant({ merchantId }, plain.metadata()),
        await tenancy.listMerchants({ projectId: t.projectId, page: undefined }, plain.metadata()),
        await tenancy.setMerchantStatus(statusRequest(merchantId, t.staffId, ACTIVE), plain.metadata()),
      ];
      for (const view of maskedViews) {
        const text = json(view);
        expect(text).not.toContain(id);
        expect(text).not.toContain(id.slice(4, 14));
        expect(text).not.toContain(mobile);
        expect(text).not.toContain(mobile.slice(3, 7) + mobile.slice(7));
      }
      expect((await tenancy.getMerchant({ merchantId }, plain.metadata())).merchant).toMatchObject(masked);

      const full = { ownerIdNumber: id, contactPhone: mobile };
      expect((await tenancy.getMerchant({ merchantId }, reader.metadata())).merchant).toMatchObject(full);
      expect(
        (await tenancy.listMerchants({ projectId: t.projectId, page: undefined }, reader.metadata()))
          .merchants,
      ).toMatchObject([full]);

      const { rows: events } = await pg.query<{ payload: Buffer; headers: unknown }>(
        'SELECT payload, headers FROM outbox WHERE partition_key = $1',
        [t.operatorId],
      );
      expect(events.length).toBeGreaterThanOrEqual(6);
      for (const e of events) {
        for (const secret of [id, mobile, id.slice(4, 14), mobile.slice(3)]) {
          expect(e.payload.includes(Buffer.from(secret))).toBe(false);
          expect(json(e.headers)).not.toContain(secret);
        }
      }
      const { rows } = await pg.query('SELECT * FROM merchants WHERE merchant_id = $1', [merchantId]);
      const stored = json(
        Object.fromEntries(
          Object.entries(rows[0]).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('latin1') : v]),
        ),
      );
      expect(stored).not.toContain(id);
      expect(stored).not.toContain(mobile);
      const { rows: keys } = await pg.query('SELECT * FROM idempotency_keys');
      expect(json(keys)).not.toContain(mobile);
      expect(svc.output()).not.toContain(id);
      expect(svc.output()).not.toContain(mobile);
    });
  });

  // ---- 6. merchant status and the acting staff ---------------------------------------------------

  describe('merchant status transitions and staff', () => {
    it('refuses transitions other than pending > active, active > suspended, suspended > active', async () => {
      const t = await tree();
      const m = await merchant(t);
      const before = await counts(pg);
      const err = await failure(
        tenancy.setMerchantStatus(statusRequest(m.merchantId, t.staffId, SUSPENDED), admin.metadata()),
      );
      expect(err.code).toBe(status.FAILED_PRECONDITION);
      expect(err.details).toContain('pending to suspended');
      expect(await counts(pg)).toEqual(before);
      await tenancy.setMerchantStatus(statusRequest(m.merchantId, t.staffId, ACTIVE), admin.metadata());
      const again = await failure(
        tenancy.setMerchantStatus(statusRequest(m.merchantId, t.staffId, ACTIVE), admin.metadata()),
      );
      expect(again.code).toBe(status.FAILED_PRECONDITION);
      expect(again.details).toContain('active to active');
      await tenancy.setMerchantStatus(statusRequest(m.merchantId, t.staffId, SUSPENDED), admin.metadata());
      const twice = await failure(
        tenancy.setMerchantStatus(statusRequest(m.merchantId, t.staffId, SUSPENDED), admin.metadata()),
      );
      expect(twice.details).toContain('suspended to suspended');
      expect(
        (await tenancy.getMerchant({ merchantId: m.merchantId }, admin.metadata())).merchant!.status,
      ).toBe(SUSPENDED);
    });

    it('requires an active property staff member of the same project, else FAILED_PRECONDITION naming the field', async () => {
      const t = await tree();
      const m = await merchant(t);
      const other = await tree();
      const inactive = await insertStaff(pg, {
        operatorId: t.operatorId,
        projectId: t.projectId,
        role: 1,
        active: false,
      });
      const merchantStaff = await insertStaff(pg, {
        operatorId: t.operatorId,
        projectId: t.projectId,
        role: 2,
        merchantId: m.merchantId,
      });
      const operatorAdmin = await insertStaff(pg, { operatorId: t.operatorId, projectId: null, role: 3 });
      const wrong = [inactive, other.staffId, merchantStaff, operatorAdmin, randomUUID()];
      const before = await counts(pg);
      for (const staffId of wrong) {
        const reg = await failure(
          tenancy.registerMerchant(merchantRequest(t.projectId, staffId), admin.metadata()),
        );
        expect({ code: reg.code, field: errorField(reg) }).toEqual({
          code: status.FAILED_PRECONDITION,
          field: 'registered_by_staff_id',
        });
        expect(reg.details).toMatch(/^registered_by_staff_id: /);
        const set = await failure(
          tenancy.setMerchantStatus(statusRequest(m.merchantId, staffId, ACTIVE), admin.metadata()),
        );
        expect({ code: set.code, field: errorField(set) }).toEqual({
          code: status.FAILED_PRECONDITION,
          field: 'changed_by_staff_id',
        });
        expect(set.details).not.toContain(staffId);
      }
      expect(await counts(pg)).toEqual(before);
    });

    it('applies concurrent changes of one merchant one at a time', async () => {
      const t = await tree();
      const m = await merchant(t);
      await tenancy.setMerchantStatus(statusRequest(m.merchantId, t.staffId, ACTIVE), admin.metadata());
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () =>
          tenancy.setMerchantStatus(statusRequest(m.merchantId, t.staffId, SUSPENDED), admin.metadata()),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(refused.map((r) => (r.reason as { code: number }).code)).toEqual(
        Array(9).fill(status.FAILED_PRECONDITION),
      );
      const { rows } = await pg.query(
        'SELECT count(*)::int AS n FROM outbox WHERE partition_key = $1 AND event_type = $2',
        [t.operatorId, IdentityEvents.MerchantStatusChanged.type],
      );
      expect(rows[0].n).toBe(2);
    });
  });
});
