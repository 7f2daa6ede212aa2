import { randomUUID } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import { IdentityEvents } from '@citybase/contracts/events';
import {
  BindHouseholdMemberRequest,
  CreateHouseholdRequest,
  FindResidentByPhoneRequest,
  GetHouseholdRequest,
  GetResidentRequest,
  HouseholdRole,
  RegisterCourierRequest,
  RegisterResidentRequest,
  RegisterStaffRequest,
  Resident,
  StaffRole,
  VerificationStatus,
  VerifyResidentRequest,
} from '@citybase/contracts/citybase/identity/v1/people';
import {
  insertMerchant,
  insertTenant,
  insertUnit,
  issuedPii,
  newIdNumber,
  newPhone,
  Tenant,
  withCheckDigit,
} from './people-fixtures';
import {
  caller,
  counts,
  errorField,
  failure,
  IdentityHarness,
  ineligibleStaff,
  json,
  outboxOf,
  registerStaff,
  startIdentity,
} from './people-harness';

const maskedPhone = (p: string) => `${p.slice(0, 3)}****${p.slice(-4)}`;
const maskedId = (id: string) => `${id.slice(0, 4)}**********${id.slice(-4)}`;

describe('identity PeopleService over gRPC (in-process service, PostgreSQL, Kafka, Redis)', () => {
  let h: IdentityHarness;
  let A: Tenant;
  let B: Tenant;
  /** Clients of operator A without and with identity:pii.read; of operator B; of both operators. */
  let asA: () => Metadata;
  let asApii: () => Metadata;
  let asB: () => Metadata;
  let asAB: () => Metadata;
  /** Active property staff of A.projectId and of A.otherProjectId. */
  let staffA: string;
  let staffAOther: string;
  let staffB: string;

  beforeAll(async () => {
    h = await startIdentity('identity-people');
    A = await insertTenant(h.pg, 12);
    B = await insertTenant(h.pg);
    asA = caller(h.issuer, { operators: [A.operatorId] });
    asApii = caller(h.issuer, { operators: [A.operatorId] }, { pii: true });
    asB = caller(h.issuer, { operators: [B.operatorId] });
    asAB = caller(h.issuer, { operators: [A.operatorId, B.operatorId] });
    staffA = await registerStaff(h, asA, { operatorId: A.operatorId, projectId: A.projectId });
    staffAOther = await registerStaff(h, asA, { operatorId: A.operatorId, projectId: A.otherProjectId });
    staffB = await registerStaff(h, asB, { operatorId: B.operatorId, projectId: B.projectId });
  });

  afterAll(async () => {
    await h?.stop();
  });

  let unitCursor = 0;
  /** A unit of A.projectId no test has used yet. */
  async function freshUnit(): Promise<string> {
    if (unitCursor < A.unitIds.length) return A.unitIds[unitCursor++] as string;
    return insertUnit(h.pg, A.operatorId, A.projectId, A.buildingId);
  }

  function residentRequest(over: Partial<RegisterResidentRequest> = {}): RegisterResidentRequest {
    return {
      requestId: randomUUID(),
      projectId: A.projectId,
      name: 'Han Meimei',
      phone: newPhone(),
      idNumber: newIdNumber(),
      ...over,
    };
  }

  function staffRequest(over: Partial<RegisterStaffRequest> = {}): RegisterStaffRequest {
    return {
      requestId: randomUUID(),
      tenancy: { operatorId: A.operatorId, projectId: A.projectId, merchantId: '' },
      role: StaffRole.STAFF_ROLE_PROPERTY_STAFF,
      name: 'Zhang San',
      phone: newPhone(),
      ...over,
    };
  }

  function courierRequest(over: Partial<RegisterCourierRequest> = {}): RegisterCourierRequest {
    return {
      requestId: randomUUID(),
      projectId: A.projectId,
      name: 'Liu Kuai',
      phone: newPhone(),
      idNumber: newIdNumber(),
      photoRef: 'couriers/liu.jpg',
      employer: 'SF Express',
      ...over,
    };
  }

  /** BindHouseholdMember of the resident with `phone` to the household, under a fresh request id. */
  function bindRequest(householdId: string, phone: string, relation = ''): BindHouseholdMemberRequest {
    return { requestId: randomUUID(), householdId, phone, relation };
  }

  async function newResident(over: Partial<RegisterResidentRequest> = {}, md = asA) {
    const req = residentRequest(over);
    const { resident } = await h.people.registerResident(req, md());
    return { ...(resident as Resident), clearPhone: req.phone, clearId: req.idNumber };
  }

  async function verifiedResident(over: Partial<RegisterResidentRequest> = {}) {
    const r = await newResident(over);
    await h.people.verifyResident(
      { requestId: randomUUID(), residentId: r.residentId, verifiedByStaffId: staffA },
      asA(),
    );
    return r;
  }

  async function household(headOver: Partial<RegisterResidentRequest> = {}) {
    const head = await verifiedResident(headOver);
    const unitId = await freshUnit();
    const { household: hh } = await h.people.createHousehold(
      { requestId: randomUUID(), unitId, headResidentId: head.residentId },
      asA(),
    );
    return { head, unitId, householdId: hh!.householdId };
  }

  function decode<T>(type: { codec: { decode(b: Uint8Array): T } }, rows: { payload: Buffer }[]): T[] {
    return rows.map((r) => type.codec.decode(r.payload));
  }

  describe('RegisterResident', () => {
    it('registers an UNVERIFIED resident with masked personal values and one ResidentRegistered (masked phone only)', async () => {
      const phone = newPhone();
      const idNumber = newIdNumber();
      const before = await counts(h.pg);
      const { resident } = await h.people.registerResident(
        residentRequest({
          name: ' Li Lei ',
          phone: `+86 ${phone.slice(0, 3)}-${phone.slice(3, 7)}-${phone.slice(7)}`,
          idNumber: idNumber.toLowerCase(),
        }),
        asA(),
      );
      expect(resident).toMatchObject({
        operatorId: A.operatorId,
        projectId: A.projectId,
        name: 'Li Lei',
        phone: maskedPhone(phone),
        idNumber: maskedId(idNumber),
        verificationStatus: VerificationStatus.VERIFICATION_STATUS_UNVERIFIED,
        verifiedByStaffId: '',
        verifiedAt: undefined,
        householdId: '',
      });
      expect(await counts(h.pg)).toEqual({
        ...before,
        residents: before.residents + 1,
        idempotency_keys: before.idempotency_keys + 1,
        outbox: before.outbox + 1,
      });
      const events = (await outboxOf(h.pg, IdentityEvents.ResidentRegistered.type))
        .map((r) => ({
          key: r.partition_key,
          event: IdentityEvents.ResidentRegistered.codec.decode(r.payload),
        }))
        .filter((e) => e.event.residentId === resident!.residentId);
      expect(events).toEqual([
        {
          key: A.operatorId,
          event: {
            residentId: resident!.residentId,
            projectId: A.projectId,
            operatorId: A.operatorId,
            phoneMasked: maskedPhone(phone),
            occurredAt: resident!.createdAt,
          },
        },
      ]);

      // The same resident, in full, for a caller with identity:pii.read.
      const full = await h.people.getResident({ residentId: resident!.residentId }, asApii());
      expect(full.resident).toEqual({ ...resident, phone, idNumber });
      expect((await h.people.getResident({ residentId: resident!.residentId }, asA())).resident).toEqual(
        resident,
      );
    });

    it('refuses a second resident with the same phone in the project (ALREADY_EXISTS naming phone, not echoing it); another project may have it', async () => {
      const first = await newResident();
      const before = await counts(h.pg);
      const err = await failure(
        h.people.registerResident(residentRequest({ phone: first.clearPhone, name: 'Someone Else' }), asA()),
      );
      expect(err.code).toBe(status.ALREADY_EXISTS);
      expect(errorField(err)).toBe('phone');
      expect(err.details).not.toContain(first.clearPhone);
      expect(err.details).not.toContain(first.clearPhone.slice(-4));
      expect(await counts(h.pg)).toEqual(before);
      const elsewhere = await newResident({ phone: first.clearPhone, projectId: A.otherProjectId });
      expect(elsewhere.projectId).toBe(A.otherProjectId);
    });

    it('turns concurrent registrations of one phone (different request ids) into exactly one resident', async () => {
      const phone = newPhone();
      const before = await counts(h.pg);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => h.people.registerResident(residentRequest({ phone }), asA())),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).toHaveLength(1);
      expect(refused.map((r) => (r.reason as { code: number }).code)).toEqual(
        Array(7).fill(status.ALREADY_EXISTS),
      );
      const after = await counts(h.pg);
      expect(after.residents - before.residents).toBe(1);
      expect(after.outbox - before.outbox).toBe(1);
    });
  });

  describe('VerifyResident', () => {
    it('records the verifying property staff and time, publishes one ResidentVerified; verifying again is a no-op', async () => {
      const r = await newResident();
      const { resident } = await h.people.verifyResident(
        { requestId: randomUUID(), residentId: r.residentId, verifiedByStaffId: staffA },
        asA(),
      );
      expect(resident).toMatchObject({
        residentId: r.residentId,
        verificationStatus: VerificationStatus.VERIFICATION_STATUS_VERIFIED,
        verifiedByStaffId: staffA,
      });
      expect(resident!.verifiedAt?.seconds).toBeGreaterThan(0n);
      const events = () =>
        outboxOf(h.pg, IdentityEvents.ResidentVerified.type).then((rows) =>
          decode(IdentityEvents.ResidentVerified, rows).filter((e) => e.residentId === r.residentId),
        );
      expect(await events()).toEqual([
        expect.objectContaining({
          operatorId: A.operatorId,
          projectId: A.projectId,
          verifiedByStaffId: staffA,
        }),
      ]);

      // Another verification (new request id, even by other staff of the project) changes nothing.
      const staffA2 = await registerStaff(h, asA, { operatorId: A.operatorId, projectId: A.projectId });
      const again = await h.people.verifyResident(
        { requestId: randomUUID(), residentId: r.residentId, verifiedByStaffId: staffA2 },
        asA(),
      );
      expect(again.resident).toEqual(resident);
      expect(await events()).toHaveLength(1);
    });

    it("refuses anyone but active property staff of the resident's project (FAILED_PRECONDITION naming verified_by_staff_id), writing nothing", async () => {
      const { merchantStaff, admin, inactive } = await ineligibleStaff(h, asA, A, staffA);
      const r = await newResident();
      const before = await counts(h.pg);
      for (const staffId of [merchantStaff, admin, inactive, staffAOther, staffB, randomUUID()]) {
        const err = await failure(
          h.people.verifyResident(
            { requestId: randomUUID(), residentId: r.residentId, verifiedByStaffId: staffId },
            asA(),
          ),
        );
        expect({ staffId, code: err.code, field: errorField(err) }).toEqual({
          staffId,
          code: status.FAILED_PRECONDITION,
          field: 'verified_by_staff_id',
        });
      }
      expect(await counts(h.pg)).toEqual(before);
      const { resident } = await h.people.getResident({ residentId: r.residentId }, asA());
      expect(resident!.verificationStatus).toBe(VerificationStatus.VERIFICATION_STATUS_UNVERIFIED);
    });

    it('answers NOT_FOUND for an unknown resident', async () => {
      const err = await failure(
        h.people.verifyResident(
          { requestId: randomUUID(), residentId: randomUUID(), verifiedByStaffId: staffA },
          asA(),
        ),
      );
      expect(err.code).toBe(status.NOT_FOUND);
    });
  });

  describe('GetResident and FindResidentByPhone', () => {
    it('finds a resident by phone within one project only, by any notation of the number', async () => {
      const r = await newResident();
      const found = await h.people.findResidentByPhone(
        { projectId: A.projectId, phone: `86${r.clearPhone}` },
        asA(),
      );
      expect(found.resident!.residentId).toBe(r.residentId);
      expect(found.resident!.phone).toBe(maskedPhone(r.clearPhone));

      for (const req of [
        { projectId: A.otherProjectId, phone: r.clearPhone },
        { projectId: A.projectId, phone: newPhone() },
        { projectId: randomUUID(), phone: r.clearPhone },
      ]) {
        const err = await failure(h.people.findResidentByPhone(req, asA()));
        expect(err.code).toBe(status.NOT_FOUND);
        expect(err.details).not.toContain(req.phone);
      }
      expect((await failure(h.people.getResident({ residentId: randomUUID() }, asA()))).code).toBe(
        status.NOT_FOUND,
      );
    });
  });

  describe('households', () => {
    it('creates a household with a verified head, binds members by phone, and shows them in GetHousehold and on the residents', async () => {
      const head = await verifiedResident();
      const unitId = await freshUnit();
      const created = await h.people.createHousehold(
        { requestId: randomUUID(), unitId, headResidentId: head.residentId },
        asA(),
      );
      const householdId = created.household!.householdId;
      expect(created.household).toMatchObject({
        operatorId: A.operatorId,
        projectId: A.projectId,
        unitId,
        members: [{ residentId: head.residentId, role: HouseholdRole.HOUSEHOLD_ROLE_HEAD, relation: '' }],
      });
      const createdEvents = decode(
        IdentityEvents.HouseholdCreated,
        await outboxOf(h.pg, IdentityEvents.HouseholdCreated.type),
      ).filter((e) => e.householdId === householdId);
      expect(createdEvents).toEqual([
        expect.objectContaining({ unitId, headResidentId: head.residentId, operatorId: A.operatorId }),
      ]);

      const spouse = await newResident(); // binding does not require verification
      const child = await newResident();
      const bound = await h.people.bindHouseholdMember(
        bindRequest(householdId, spouse.clearPhone, 'spouse'),
        asA(),
      );
      expect(bound.household!.members.map((m) => [m.residentId, m.role, m.relation])).toEqual([
        [head.residentId, HouseholdRole.HOUSEHOLD_ROLE_HEAD, ''],
        [spouse.residentId, HouseholdRole.HOUSEHOLD_ROLE_MEMBER, 'spouse'],
      ]);
      await h.people.bindHouseholdMember(bindRequest(householdId, `+86 ${child.clearPhone}`), asA());
      const got = await h.people.getHousehold({ householdId }, asA());
      expect(got.household!.members.map((m) => m.residentId)).toEqual([
        head.residentId,
        spouse.residentId,
        child.residentId,
      ]);
      for (const r of [head, spouse, child]) {
        expect((await h.people.getResident({ residentId: r.residentId }, asA())).resident!.householdId).toBe(
          householdId,
        );
      }
      const boundEvents = decode(
        IdentityEvents.HouseholdMemberBound,
        await outboxOf(h.pg, IdentityEvents.HouseholdMemberBound.type),
      ).filter((e) => e.householdId === householdId);
      expect(boundEvents.map((e) => [e.residentId, e.role, e.relation, e.operatorId])).toEqual([
        [spouse.residentId, HouseholdRole.HOUSEHOLD_ROLE_MEMBER, 'spouse', A.operatorId],
        [child.residentId, HouseholdRole.HOUSEHOLD_ROLE_MEMBER, '', A.operatorId],
      ]);
    });

    it('CreateHousehold refuses an ineligible head (FAILED_PRECONDITION naming head_resident_id) and a second household for a unit (ALREADY_EXISTS), writing nothing', async () => {
      const taken = await household();
      const unverified = await newResident();
      const otherProject = await newResident({ projectId: A.otherProjectId });
      const unitId = await freshUnit();
      const before = await counts(h.pg);
      for (const headResidentId of [
        unverified.residentId,
        taken.head.residentId,
        otherProject.residentId,
        randomUUID(),
      ]) {
        const err = await failure(
          h.people.createHousehold({ requestId: randomUUID(), unitId, headResidentId }, asA()),
        );
        expect([err.code, errorField(err)]).toEqual([status.FAILED_PRECONDITION, 'head_resident_id']);
      }
      const head = await verifiedResident();
      const afterHead = await counts(h.pg);
      const err = await failure(
        h.people.createHousehold(
          { requestId: randomUUID(), unitId: taken.unitId, headResidentId: head.residentId },
          asA(),
        ),
      );
      expect([err.code, errorField(err)]).toEqual([status.ALREADY_EXISTS, 'unit_id']);
      const unknownUnit = await failure(
        h.people.createHousehold(
          { requestId: randomUUID(), unitId: randomUUID(), headResidentId: head.residentId },
          asA(),
        ),
      );
      expect(unknownUnit.code).toBe(status.NOT_FOUND);
      expect(await counts(h.pg)).toEqual(afterHead);
      expect(afterHead.households).toBe(before.households);
    });

    it('BindHouseholdMember refuses a phone of nobody in the project (NOT_FOUND) and a resident already in a household (FAILED_PRECONDITION), writing nothing', async () => {
      const one = await household();
      const two = await household();
      const member = await newResident();
      await h.people.bindHouseholdMember(bindRequest(one.householdId, member.clearPhone, 'parent'), asA());
      const elsewhere = await newResident({ projectId: A.otherProjectId });
      const before = await counts(h.pg);
      const cases: [string, number][] = [
        [member.clearPhone, status.FAILED_PRECONDITION], // already in household one
        [two.head.clearPhone, status.FAILED_PRECONDITION], // head of another household
        [one.head.clearPhone, status.FAILED_PRECONDITION], // this household's own head
        [elsewhere.clearPhone, status.NOT_FOUND], // a resident of another project
        [newPhone(), status.NOT_FOUND],
      ];
      for (const [phone, code] of cases) {
        const err = await failure(h.people.bindHouseholdMember(bindRequest(one.householdId, phone), asA()));
        expect([err.code, errorField(err)]).toEqual([code, 'phone']);
        expect(err.details).not.toContain(phone);
      }
      expect(
        (await failure(h.people.bindHouseholdMember(bindRequest(randomUUID(), member.clearPhone), asA())))
          .code,
      ).toBe(status.NOT_FOUND);
      expect(await counts(h.pg)).toEqual(before);
    });

    it('binds one resident raced into two households exactly once', async () => {
      for (let round = 0; round < 3; round++) {
        const one = await household();
        const two = await household();
        const member = await newResident();
        const results = await Promise.allSettled(
          [one, two].map((hh) =>
            h.people.bindHouseholdMember(bindRequest(hh.householdId, member.clearPhone, 'child'), asA()),
          ),
        );
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect((rejected!.reason as { code: number }).code).toBe(status.FAILED_PRECONDITION);
        const { rows } = await h.pg.query(
          'SELECT household_id FROM household_members WHERE resident_id = $1',
          [member.residentId],
        );
        expect(rows).toHaveLength(1);
      }
    });
  });

  describe('staff and couriers', () => {
    it('registers staff of each role at its level of the tenancy tree; GetStaff masks the phone unless identity:pii.read', async () => {
      const merchantId = await insertMerchant(h.pg, A, staffA);
      const cases: [StaffRole, RegisterStaffRequest['tenancy']][] = [
        [
          StaffRole.STAFF_ROLE_PROPERTY_STAFF,
          { operatorId: A.operatorId, projectId: A.projectId, merchantId: '' },
        ],
        [
          StaffRole.STAFF_ROLE_MERCHANT_STAFF,
          { operatorId: A.operatorId, projectId: A.projectId, merchantId },
        ],
        [StaffRole.STAFF_ROLE_OPERATOR_ADMIN, { operatorId: A.operatorId, projectId: '', merchantId: '' }],
      ];
      for (const [role, tenancy] of cases) {
        const phone = newPhone();
        const { staff } = await h.people.registerStaff(staffRequest({ tenancy, role, phone }), asA());
        expect(staff).toMatchObject({ ...tenancy, role, name: 'Zhang San', phone: maskedPhone(phone) });
        expect((await h.people.getStaff({ staffId: staff!.staffId }, asA())).staff).toEqual(staff);
        expect((await h.people.getStaff({ staffId: staff!.staffId }, asApii())).staff!.phone).toBe(phone);
        const events = decode(
          IdentityEvents.StaffRegistered,
          await outboxOf(h.pg, IdentityEvents.StaffRegistered.type),
        ).filter((e) => e.staffId === staff!.staffId);
        expect(events).toEqual([expect.objectContaining({ ...tenancy, role })]);
      }
      expect((await failure(h.people.getStaff({ staffId: randomUUID() }, asA()))).code).toBe(
        status.NOT_FOUND,
      );
    });

    it('registers a courier with photo and employer; GetCourier masks phone and ID number unless identity:pii.read', async () => {
      const phone = newPhone();
      const idNumber = newIdNumber();
      const { courier } = await h.people.registerCourier(courierRequest({ phone, idNumber }), asA());
      expect(courier).toMatchObject({
        operatorId: A.operatorId,
        projectId: A.projectId,
        name: 'Liu Kuai',
        phone: maskedPhone(phone),
        idNumber: maskedId(idNumber),
        photoRef: 'couriers/liu.jpg',
        employer: 'SF Express',
      });
      expect((await h.people.getCourier({ courierId: courier!.courierId }, asA())).courier).toEqual(courier);
      expect((await h.people.getCourier({ courierId: courier!.courierId }, asApii())).courier).toEqual({
        ...courier,
        phone,
        idNumber,
      });
      const events = decode(
        IdentityEvents.CourierRegistered,
        await outboxOf(h.pg, IdentityEvents.CourierRegistered.type),
      ).filter((e) => e.courierId === courier!.courierId);
      expect(events).toEqual([expect.objectContaining({ employer: 'SF Express', operatorId: A.operatorId })]);
      expect((await failure(h.people.getCourier({ courierId: randomUUID() }, asA()))).code).toBe(
        status.NOT_FOUND,
      );
    });
  });

  describe('idempotency of every mutating RPC', () => {
    type Call = (req: never, md: Metadata) => Promise<unknown>;
    interface Mutation {
      name: string;
      /** A fresh valid request (after setting up what it needs), the call, and a different body. */
      prepare(): Promise<{ call: Call; req: object; different: object }>;
    }
    const mutations: Mutation[] = [
      {
        name: 'RegisterResident',
        prepare: async () => {
          const req = residentRequest();
          return { call: h.people.registerResident, req, different: { ...req, name: 'Other Name' } };
        },
      },
      {
        name: 'VerifyResident',
        prepare: async () => {
          const r = await newResident();
          const req = { requestId: randomUUID(), residentId: r.residentId, verifiedByStaffId: staffA };
          return {
            call: h.people.verifyResident,
            req,
            different: { ...req, residentId: (await newResident()).residentId },
          };
        },
      },
      {
        name: 'CreateHousehold',
        prepare: async () => {
          const head = await verifiedResident();
          const req = { requestId: randomUUID(), unitId: await freshUnit(), headResidentId: head.residentId };
          return { call: h.people.createHousehold, req, different: { ...req, unitId: await freshUnit() } };
        },
      },
      {
        name: 'BindHouseholdMember',
        prepare: async () => {
          const hh = await household();
          const member = await newResident();
          const req = bindRequest(hh.householdId, member.clearPhone, 'spouse');
          return { call: h.people.bindHouseholdMember, req, different: { ...req, relation: 'child' } };
        },
      },
      {
        name: 'RegisterStaff',
        prepare: async () => {
          const req = staffRequest();
          return { call: h.people.registerStaff, req, different: { ...req, phone: newPhone() } };
        },
      },
      {
        name: 'RegisterCourier',
        prepare: async () => {
          const req = courierRequest();
          return { call: h.people.registerCourier, req, different: { ...req, employer: 'Meituan' } };
        },
      },
    ];

    it.each(mutations.map((m) => [m.name, m] as const))(
      '%s: same key and body -> same result and nothing new; same key, other body -> ALREADY_EXISTS',
      async (_name, m) => {
        const md = caller(h.issuer, { operators: [A.operatorId] }); // one client: request ids are per client
        const { call, req, different } = await m.prepare();
        const first = await call(req as never, md());
        const before = await counts(h.pg);
        expect(await call(req as never, md())).toEqual(first);
        expect(await counts(h.pg)).toEqual(before);
        const err = await failure(call(different as never, md()));
        expect([err.code, errorField(err)]).toEqual([status.ALREADY_EXISTS, 'request_id']);
        expect(await counts(h.pg)).toEqual(before);
      },
    );

    it('keeps request ids per client: another client reusing a key makes a new request', async () => {
      const req = courierRequest({ requestId: 'shared-key-1' });
      const one = await h.people.registerCourier(req, caller(h.issuer, { operators: [A.operatorId] })());
      const two = await h.people.registerCourier(req, caller(h.issuer, { operators: [A.operatorId] })());
      expect(two.courier!.courierId).not.toBe(one.courier!.courierId);
    });

    it.each(mutations.map((m) => [m.name, m] as const))(
      '%s: 8 concurrent identical requests -> one result, one event',
      async (_name, m) => {
        const md = caller(h.issuer, { operators: [A.operatorId] });
        const { call, req } = await m.prepare();
        const before = await counts(h.pg);
        const results = await Promise.all(Array.from({ length: 8 }, () => call(req as never, md())));
        for (const r of results) expect(r).toEqual(results[0]);
        const after = await counts(h.pg);
        expect(after.outbox - before.outbox).toBe(1);
        expect(after.idempotency_keys - before.idempotency_keys).toBe(1);
      },
    );
  });

  describe('bad input: INVALID_ARGUMENT naming the field, nothing written', () => {
    const uuid = () => randomUUID();
    const badCheckDigit = () => {
      const id = newIdNumber();
      return id.slice(0, 17) + (id[17] === '0' ? '1' : '0');
    };
    const badDate = () => withCheckDigit('11010519900231123'); // 31 February
    const tenancy = (t: Partial<NonNullable<RegisterStaffRequest['tenancy']>>) => ({
      operatorId: A.operatorId,
      projectId: '',
      merchantId: '',
      ...t,
    });

    type Row = [string, string, () => Promise<unknown>];
    /** A change to a valid request: an object, or a function when it needs the suite's tenants or fresh values. */
    type Change<R> = Partial<R> | (() => Partial<R>);
    /** The rows of one RPC: [what is wrong, the field named, the change], each sent by `send`. */
    function invalid<R extends object>(
      rpc: string,
      send: (over: Partial<R>) => Promise<unknown>,
      cases: [string, string, Change<R>][],
    ): Row[] {
      return cases.map(([what, field, change]) => [
        `${rpc} ${what}`,
        field,
        () => send(typeof change === 'function' ? change() : change),
      ]);
    }
    const rows: Row[] = [
      ...invalid<RegisterResidentRequest>(
        'RegisterResident',
        (over) => h.people.registerResident(residentRequest(over), asAB()),
        [
          ['empty request_id', 'request_id', { requestId: '' }],
          ['long request_id', 'request_id', { requestId: 'r'.repeat(129) }],
          ['request_id with a space', 'request_id', { requestId: 'a b' }],
          ['empty project_id', 'project_id', { projectId: '' }],
          ['malformed project_id', 'project_id', { projectId: 'p-1' }],
          ['empty name', 'name', { name: '   ' }],
          ['long name', 'name', { name: 'n'.repeat(101) }],
          ['empty phone', 'phone', { phone: '' }],
          ['malformed phone', 'phone', { phone: '12912345678' }],
          ['short phone', 'phone', { phone: '1391234567' }],
          ['long phone', 'phone', { phone: '1'.repeat(40) }],
          ['empty id_number', 'id_number', { idNumber: '' }],
          ['id_number with a bad check digit', 'id_number', () => ({ idNumber: badCheckDigit() })],
          ['id_number with a bad date', 'id_number', () => ({ idNumber: badDate() })],
          ['id_number of 17 characters', 'id_number', () => ({ idNumber: newIdNumber().slice(0, 17) })],
          ['id_number of 19 characters', 'id_number', () => ({ idNumber: newIdNumber() + '1' })],
        ],
      ),
      ...invalid<VerifyResidentRequest>(
        'VerifyResident',
        (over) =>
          h.people.verifyResident(
            { requestId: uuid(), residentId: uuid(), verifiedByStaffId: staffA, ...over },
            asAB(),
          ),
        [
          ['empty request_id', 'request_id', { requestId: '' }],
          ['malformed resident_id', 'resident_id', { residentId: 'r1' }],
          ['empty verified_by_staff_id', 'verified_by_staff_id', { verifiedByStaffId: '' }],
          [
            'malformed verified_by_staff_id',
            'verified_by_staff_id',
            () => ({ verifiedByStaffId: `${staffA}x` }),
          ],
        ],
      ),
      ...invalid<GetResidentRequest>(
        'GetResident',
        (over) => h.people.getResident({ residentId: uuid(), ...over }, asAB()),
        [
          ['empty resident_id', 'resident_id', { residentId: '' }],
          ['malformed resident_id', 'resident_id', { residentId: 'x'.repeat(300) }],
        ],
      ),
      ...invalid<FindResidentByPhoneRequest>(
        'FindResidentByPhone',
        (over) =>
          h.people.findResidentByPhone({ projectId: A.projectId, phone: newPhone(), ...over }, asAB()),
        [
          ['malformed project_id', 'project_id', { projectId: 'p' }],
          ['empty phone', 'phone', { phone: '' }],
          ['malformed phone', 'phone', { phone: '139-abc' }],
        ],
      ),
      ...invalid<CreateHouseholdRequest>(
        'CreateHousehold',
        (over) =>
          h.people.createHousehold(
            { requestId: uuid(), unitId: uuid(), headResidentId: uuid(), ...over },
            asAB(),
          ),
        [
          ['empty request_id', 'request_id', { requestId: '' }],
          ['malformed unit_id', 'unit_id', { unitId: 'u' }],
          ['empty head_resident_id', 'head_resident_id', { headResidentId: '' }],
        ],
      ),
      ...invalid<BindHouseholdMemberRequest>(
        'BindHouseholdMember',
        (over) =>
          h.people.bindHouseholdMember(
            { requestId: uuid(), householdId: uuid(), phone: newPhone(), relation: '', ...over },
            asAB(),
          ),
        [
          ['empty request_id', 'request_id', { requestId: '' }],
          ['malformed household_id', 'household_id', { householdId: 'h' }],
          ['empty phone', 'phone', { phone: '' }],
          ['malformed phone', 'phone', { phone: '+1 555 0100' }],
          ['long relation', 'relation', { relation: 'r'.repeat(51) }],
        ],
      ),
      ...invalid<GetHouseholdRequest>(
        'GetHousehold',
        (over) => h.people.getHousehold({ householdId: uuid(), ...over }, asAB()),
        [
          ['empty household_id', 'household_id', { householdId: '' }],
          ['malformed household_id', 'household_id', { householdId: 'household-1' }],
        ],
      ),
      ...invalid<RegisterStaffRequest>(
        'RegisterStaff',
        (over) => h.people.registerStaff(staffRequest(over), asAB()),
        [
          ['empty request_id', 'request_id', { requestId: '' }],
          ['missing tenancy', 'tenancy.operator_id', { tenancy: undefined }],
          [
            'malformed tenancy.operator_id',
            'tenancy.operator_id',
            () => ({ tenancy: tenancy({ operatorId: 'op', projectId: A.projectId }) }),
          ],
          ['unspecified role', 'role', { role: StaffRole.STAFF_ROLE_UNSPECIFIED }],
          ['unknown role', 'role', { role: 9 as StaffRole }],
          ['empty name', 'name', { name: '' }],
          ['long name', 'name', { name: 'n'.repeat(101) }],
          ['malformed phone', 'phone', { phone: '02112345678' }],
          ['property staff without project', 'tenancy.project_id', () => ({ tenancy: tenancy({}) })],
          [
            'property staff with a merchant',
            'tenancy.merchant_id',
            () => ({ tenancy: tenancy({ projectId: A.projectId, merchantId: uuid() }) }),
          ],
          [
            'merchant staff without merchant',
            'tenancy.merchant_id',
            { role: StaffRole.STAFF_ROLE_MERCHANT_STAFF },
          ],
          [
            'operator admin with a project',
            'tenancy.project_id',
            { role: StaffRole.STAFF_ROLE_OPERATOR_ADMIN },
          ],
          [
            'operator admin with a merchant',
            'tenancy.merchant_id',
            () => ({ role: StaffRole.STAFF_ROLE_OPERATOR_ADMIN, tenancy: tenancy({ merchantId: uuid() }) }),
          ],
          [
            'project of another operator',
            'tenancy.project_id',
            () => ({ tenancy: tenancy({ projectId: B.projectId }) }),
          ],
        ],
      ),
      [
        'RegisterStaff merchant of another project',
        'tenancy.merchant_id',
        async () => {
          const merchantId = await insertMerchant(
            h.pg,
            { operatorId: A.operatorId, projectId: A.otherProjectId },
            staffAOther,
          );
          return h.people.registerStaff(
            staffRequest({
              role: StaffRole.STAFF_ROLE_MERCHANT_STAFF,
              tenancy: tenancy({ projectId: A.projectId, merchantId }),
            }),
            asAB(),
          );
        },
      ],
      ['GetStaff malformed staff_id', 'staff_id', () => h.people.getStaff({ staffId: 'staff' }, asAB())],
      ...invalid<RegisterCourierRequest>(
        'RegisterCourier',
        (over) => h.people.registerCourier(courierRequest(over), asAB()),
        [
          ['empty request_id', 'request_id', { requestId: '' }],
          ['malformed project_id', 'project_id', { projectId: '1' }],
          ['empty name', 'name', { name: '' }],
          ['malformed phone', 'phone', { phone: '1391234567a' }],
          ['id_number with a bad check digit', 'id_number', () => ({ idNumber: badCheckDigit() })],
          ['id_number with a bad date', 'id_number', () => ({ idNumber: badDate() })],
          ['empty photo_ref', 'photo_ref', { photoRef: '' }],
          ['long photo_ref', 'photo_ref', { photoRef: 'p'.repeat(501) }],
          ['empty employer', 'employer', { employer: '' }],
          ['long employer', 'employer', { employer: 'e'.repeat(201) }],
        ],
      ),
      ['GetCourier empty courier_id', 'courier_id', () => h.people.getCourier({ courierId: '' }, asAB())],
    ];

    it.each(rows)('%s -> %s', async (_label, field, call) => {
      const before = await counts(h.pg);
      const err = await failure(call());
      expect({ code: err.code, field: errorField(err) }).toEqual({ code: status.INVALID_ARGUMENT, field });
      expect(err.details.startsWith(`${field}: `)).toBe(true);
      const after = await counts(h.pg);
      expect(after).toEqual(before);
    });

    it('covers every PeopleService RPC', () => {
      const covered = new Set(rows.map(([label]) => label.split(' ')[0]));
      expect([...covered].sort()).toEqual(
        [
          'BindHouseholdMember',
          'CreateHousehold',
          'FindResidentByPhone',
          'GetCourier',
          'GetHousehold',
          'GetResident',
          'GetStaff',
          'RegisterCourier',
          'RegisterResident',
          'RegisterStaff',
          'VerifyResident',
        ].sort(),
      );
    });
  });

  describe('foreign tenants', () => {
    it("gives a client of another operator NOT_FOUND on reads and PERMISSION_DENIED on writes, with none of the other tenant's data", async () => {
      const hh = await household({ name: 'Secret Head' });
      const member = await newResident({ name: 'Secret Member' });
      const { courier } = await h.people.registerCourier(
        courierRequest({ name: 'Secret Courier', photoRef: 'secret.jpg', employer: 'Secret Employer' }),
        asA(),
      );
      const secrets = [
        A.operatorId,
        A.projectId,
        'Secret',
        hh.head.clearPhone,
        maskedPhone(hh.head.clearPhone),
        hh.head.clearId,
        maskedId(hh.head.clearId),
        member.clearPhone,
      ];
      const before = await counts(h.pg);
      const calls: [string, number, object, (req: never, md: Metadata) => Promise<unknown>][] = [
        ['GetResident', status.NOT_FOUND, { residentId: hh.head.residentId }, h.people.getResident],
        [
          'FindResidentByPhone',
          status.NOT_FOUND,
          { projectId: A.projectId, phone: hh.head.clearPhone },
          h.people.findResidentByPhone,
        ],
        ['GetHousehold', status.NOT_FOUND, { householdId: hh.householdId }, h.people.getHousehold],
        ['GetStaff', status.NOT_FOUND, { staffId: staffA }, h.people.getStaff],
        ['GetCourier', status.NOT_FOUND, { courierId: courier!.courierId }, h.people.getCourier],
        ['RegisterResident', status.PERMISSION_DENIED, residentRequest(), h.people.registerResident],
        [
          'VerifyResident',
          status.PERMISSION_DENIED,
          { requestId: randomUUID(), residentId: member.residentId, verifiedByStaffId: staffB },
          h.people.verifyResident,
        ],
        [
          'CreateHousehold',
          status.PERMISSION_DENIED,
          { requestId: randomUUID(), unitId: await freshUnit(), headResidentId: member.residentId },
          h.people.createHousehold,
        ],
        [
          'BindHouseholdMember',
          status.PERMISSION_DENIED,
          { requestId: randomUUID(), householdId: hh.householdId, phone: member.clearPhone, relation: '' },
          h.people.bindHouseholdMember,
        ],
        [
          'RegisterStaff',
          status.PERMISSION_DENIED,
          staffRequest({ name: 'Intruder' }),
          h.people.registerStaff,
        ],
        ['RegisterCourier', status.PERMISSION_DENIED, courierRequest(), h.people.registerCourier],
      ];
      for (const [name, code, req, call] of calls) {
        const err = await failure(call(req as never, asB()));
        expect({ name, code: err.code }).toEqual({ name, code });
        // Nothing of A's that the caller did not send itself appears in the error.
        for (const s of secrets.filter((v) => !json(req).includes(v))) {
          expect({ name, leaked: `${err.details} ${json(err.metadata?.getMap())}`.includes(s) }).toEqual({
            name,
            leaked: false,
          });
        }
      }
      expect(await counts(h.pg)).toEqual(before);
    });

    it('limits a client bound to projects to those projects', async () => {
      const r = await newResident();
      const otherOnly = caller(h.issuer, { projects: [A.otherProjectId] });
      const thisOnly = caller(h.issuer, { projects: [A.projectId] });
      expect((await failure(h.people.getResident({ residentId: r.residentId }, otherOnly()))).code).toBe(
        status.NOT_FOUND,
      );
      expect(
        (await h.people.getResident({ residentId: r.residentId }, thisOnly())).resident!.residentId,
      ).toBe(r.residentId);
      // A project-bound client may not act on its operator's own level.
      const err = await failure(
        h.people.registerStaff(
          staffRequest({
            tenancy: { operatorId: A.operatorId, projectId: '', merchantId: '' },
            role: StaffRole.STAFF_ROLE_OPERATOR_ADMIN,
            name: 'Admin',
          }),
          thisOnly(),
        ),
      );
      expect(err.code).toBe(status.PERMISSION_DENIED);
      expect((await failure(h.people.getStaff({ staffId: staffA }, otherOnly()))).code).toBe(
        status.NOT_FOUND,
      );
    });
  });

  describe('personal data', () => {
    it('is shown in full only with identity:pii.read, and never appears in events, logs or database rows in clear', async () => {
      // One of everything, read back with and without the scope.
      const hh = await household();
      const member = await newResident();
      await h.people.bindHouseholdMember(bindRequest(hh.householdId, member.clearPhone, 'sibling'), asA());
      const staffPhone = newPhone();
      const { staff } = await h.people.registerStaff(staffRequest({ phone: staffPhone }), asA());
      const courierPhone = newPhone();
      const courierId = newIdNumber();
      const { courier } = await h.people.registerCourier(
        courierRequest({ phone: courierPhone, idNumber: courierId }),
        asA(),
      );
      const readAll = async (md: () => Metadata) =>
        json([
          await h.people.getResident({ residentId: hh.head.residentId }, md()),
          await h.people.getResident({ residentId: member.residentId }, md()),
          await h.people.findResidentByPhone({ projectId: A.projectId, phone: member.clearPhone }, md()),
          await h.people.getHousehold({ householdId: hh.householdId }, md()),
          await h.people.getStaff({ staffId: staff!.staffId }, md()),
          await h.people.getCourier({ courierId: courier!.courierId }, md()),
        ]);
      const clear = [
        hh.head.clearPhone,
        hh.head.clearId,
        member.clearPhone,
        member.clearId,
        staffPhone,
        courierPhone,
        courierId,
      ];
      const masked = await readAll(asA);
      const full = await readAll(asApii);
      for (const value of clear) {
        expect({ value, inMasked: masked.includes(value), inFull: full.includes(value) }).toEqual({
          value,
          inMasked: false,
          inFull: true,
        });
      }

      // Every phone and ID number this file ever sent, valid or not yet used, against every sink.
      const secrets = [...new Set(issuedPii)];
      expect(secrets.length).toBeGreaterThan(50);
      const { rows: outbox } = await h.pg.query<{ payload: Buffer; headers: unknown }>(
        'SELECT payload, headers FROM outbox',
      );
      expect(outbox.length).toBeGreaterThan(20);
      const log = h.svc.output();
      expect(log).toContain('resident registered'); // the log is really captured
      const tables = [
        'residents',
        'households',
        'household_members',
        'staff',
        'couriers',
        'idempotency_keys',
        'outbox',
      ];
      const rowsText: string[] = [];
      for (const t of tables) {
        const { rows } = await h.pg.query<{ row: string }>(`SELECT t::text AS row FROM ${t} t`);
        rowsText.push(...rows.map((r) => r.row));
      }
      const dump = rowsText.join('\n');
      expect(dump).toContain(maskedPhone(hh.head.clearPhone)); // the dump really holds the rows
      for (const s of secrets) {
        const bytes = Buffer.from(s);
        const leaks = {
          s,
          outboxPayload: outbox.some((r) => r.payload.includes(bytes)),
          outboxHeaders: outbox.some((r) => json(r.headers).includes(s)),
          log: log.includes(s),
          rows: dump.includes(s) || dump.includes(bytes.toString('hex')),
        };
        expect(leaks).toEqual({ s, outboxPayload: false, outboxHeaders: false, log: false, rows: false });
      }
    });
  });
});
