import { randomUUID } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import { IdentityEvents } from '@citybase/contracts/events';
import { GrantStatus, IssueDoorGrantRequest } from '@citybase/contracts/citybase/identity/v1/access';
import { toTimestamp } from '@citybase/platform';
import { waitFor } from '@citybase/platform/testing';
import { insertTenant, newIdNumber, newPhone, Tenant } from './people-fixtures';
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

describe('identity AccessService over gRPC (in-process service, PostgreSQL, Kafka, Redis)', () => {
  let h: IdentityHarness;
  let A: Tenant;
  let B: Tenant;
  let asA: () => Metadata;
  let asB: () => Metadata;
  let asAB: () => Metadata;
  /** Active property staff of A.projectId. */
  let staffA: string;
  let staffB: string;

  beforeAll(async () => {
    h = await startIdentity('identity-access');
    A = await insertTenant(h.pg, 30);
    B = await insertTenant(h.pg);
    asA = caller(h.issuer, { operators: [A.operatorId] });
    asB = caller(h.issuer, { operators: [B.operatorId] });
    asAB = caller(h.issuer, { operators: [A.operatorId, B.operatorId] });
    staffA = await registerStaff(h, asA, { operatorId: A.operatorId, projectId: A.projectId });
    staffB = await registerStaff(h, asB, { operatorId: B.operatorId, projectId: B.projectId });
  });

  afterAll(async () => {
    await h?.stop();
  });

  let unitCursor = 0;
  const freshUnit = () => A.unitIds[unitCursor++] as string;

  async function resident(projectId = A.projectId, md = asA) {
    const phone = newPhone();
    const { resident: r } = await h.people.registerResident(
      { requestId: randomUUID(), projectId, name: 'Resident', phone, idNumber: newIdNumber() },
      md(),
    );
    return { residentId: r!.residentId, phone };
  }

  /** A household of a fresh unit: a verified head and one bound member; and a stranger. */
  async function family() {
    const head = await resident();
    await h.people.verifyResident(
      { requestId: randomUUID(), residentId: head.residentId, verifiedByStaffId: staffA },
      asA(),
    );
    const unitId = freshUnit();
    const { household } = await h.people.createHousehold(
      { requestId: randomUUID(), unitId, headResidentId: head.residentId },
      asA(),
    );
    const member = await resident();
    await h.people.bindHouseholdMember(
      {
        requestId: randomUUID(),
        householdId: household!.householdId,
        phone: member.phone,
        relation: 'spouse',
      },
      asA(),
    );
    const stranger = await resident();
    return { head: head.residentId, member: member.residentId, stranger: stranger.residentId, unitId };
  }

  function issueRequest(over: Partial<IssueDoorGrantRequest>): IssueDoorGrantRequest {
    return {
      requestId: randomUUID(),
      residentId: '',
      buildingId: A.buildingId,
      unitId: '',
      issuedByStaffId: staffA,
      validUntil: undefined,
      ...over,
    };
  }

  const check = async (residentId: string, door: { buildingId?: string; unitId?: string }, md = asA) =>
    h.access.checkDoorAccess(
      { residentId, buildingId: door.buildingId ?? '', unitId: door.unitId ?? '' },
      md(),
    );

  const revoke = (grantId: string, requestId: string = randomUUID(), staffId = staffA, md = asA) =>
    h.access.revokeDoorGrant({ requestId, grantId, revokedByStaffId: staffId }, md());

  it('issues a grant: the resident may open that door, by that grant, and one GrantIssued is published', async () => {
    const f = await family();
    const { grant } = await h.access.issueDoorGrant(issueRequest({ residentId: f.head }), asA());
    expect(grant).toMatchObject({
      operatorId: A.operatorId,
      projectId: A.projectId,
      residentId: f.head,
      buildingId: A.buildingId,
      unitId: '',
      status: GrantStatus.GRANT_STATUS_ACTIVE,
      issuedByStaffId: staffA,
      validUntil: undefined,
      revokedByStaffId: '',
      revokedAt: undefined,
    });
    expect(await check(f.head, { buildingId: A.buildingId })).toEqual({
      allowed: true,
      grantId: grant!.grantId,
    });
    const events = (await outboxOf(h.pg, IdentityEvents.GrantIssued.type))
      .map((r) => ({ key: r.partition_key, event: IdentityEvents.GrantIssued.codec.decode(r.payload) }))
      .filter((e) => e.event.grant?.grantId === grant!.grantId);
    expect(events).toEqual([{ key: A.operatorId, event: { grant, occurredAt: grant!.issuedAt } }]);
  });

  it("extends a grant to every member of the resident's household, and to nobody else", async () => {
    const f = await family();
    const { grant: headGrant } = await h.access.issueDoorGrant(issueRequest({ residentId: f.head }), asA());
    // The member opens the building door through the head's grant.
    expect(await check(f.member, { buildingId: A.buildingId })).toEqual({
      allowed: true,
      grantId: headGrant!.grantId,
    });
    // And the other way round: the member's grant for the unit door opens it for the head.
    const { grant: memberGrant } = await h.access.issueDoorGrant(
      issueRequest({ residentId: f.member, buildingId: '', unitId: f.unitId }),
      asA(),
    );
    expect(await check(f.head, { unitId: f.unitId })).toEqual({
      allowed: true,
      grantId: memberGrant!.grantId,
    });
    // A resident outside the household gets nothing.
    expect(await check(f.stranger, { buildingId: A.buildingId })).toEqual({ allowed: false, grantId: '' });
    expect(await check(f.stranger, { unitId: f.unitId })).toEqual({ allowed: false, grantId: '' });
    // The household's grants are listed for each member, newest first.
    for (const r of [f.head, f.member]) {
      const { grants } = await h.access.listDoorGrants({ residentId: r }, asA());
      expect(grants.map((g) => g.grantId)).toEqual([memberGrant!.grantId, headGrant!.grantId]);
    }
    expect((await h.access.listDoorGrants({ residentId: f.stranger }, asA())).grants).toEqual([]);
  });

  it('denies a door the grant is not for', async () => {
    const f = await family();
    const { grant } = await h.access.issueDoorGrant(
      issueRequest({ residentId: f.head, buildingId: '', unitId: f.unitId }),
      asA(),
    );
    expect(await check(f.head, { unitId: f.unitId })).toEqual({ allowed: true, grantId: grant!.grantId });
    expect(await check(f.head, { unitId: freshUnit() })).toEqual({ allowed: false, grantId: '' });
    expect(await check(f.head, { buildingId: A.buildingId })).toEqual({ allowed: false, grantId: '' });
    expect(await check(f.head, { unitId: A.buildingId })).toEqual({ allowed: false, grantId: '' });
    expect(await check(f.head, { buildingId: randomUUID() })).toEqual({ allowed: false, grantId: '' });
  });

  it('refuses at once after a revocation (no cache); revoking twice is a no-op with one GrantRevoked', async () => {
    const f = await family();
    const { grant } = await h.access.issueDoorGrant(issueRequest({ residentId: f.head }), asA());
    // Warm any cache there might be.
    for (let i = 0; i < 3; i++)
      expect((await check(f.member, { buildingId: A.buildingId })).allowed).toBe(true);
    const { grant: revoked } = await revoke(grant!.grantId);
    expect(revoked).toMatchObject({
      grantId: grant!.grantId,
      status: GrantStatus.GRANT_STATUS_REVOKED,
      revokedByStaffId: staffA,
    });
    expect(revoked!.revokedAt?.seconds).toBeGreaterThan(0n);
    expect(await check(f.head, { buildingId: A.buildingId })).toEqual({ allowed: false, grantId: '' });
    expect(await check(f.member, { buildingId: A.buildingId })).toEqual({ allowed: false, grantId: '' });

    const before = await counts(h.pg);
    const again = await revoke(grant!.grantId); // a new request id: a second revocation
    expect(again.grant).toEqual(revoked);
    const after = await counts(h.pg);
    expect(after.outbox).toBe(before.outbox);
    const events = (await outboxOf(h.pg, IdentityEvents.GrantRevoked.type))
      .map((r) => IdentityEvents.GrantRevoked.codec.decode(r.payload))
      .filter((e) => e.grant?.grantId === grant!.grantId);
    expect(events).toEqual([{ grant: revoked, occurredAt: revoked!.revokedAt }]);
    expect((await h.access.listDoorGrants({ residentId: f.head }, asA())).grants).toEqual([revoked]);
  });

  it('denies an expired grant and lists it as EXPIRED', async () => {
    const f = await family();
    const validUntil = new Date(Date.now() + 1500);
    const { grant } = await h.access.issueDoorGrant(
      issueRequest({ residentId: f.head, validUntil: toTimestamp(validUntil) }),
      asA(),
    );
    expect(grant!.validUntil).toEqual(toTimestamp(validUntil));
    expect(await check(f.head, { buildingId: A.buildingId })).toEqual({
      allowed: true,
      grantId: grant!.grantId,
    });
    await waitFor(
      'grant expiry',
      async () => ((await check(f.head, { buildingId: A.buildingId })).allowed ? undefined : true),
      10_000,
      100,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(validUntil.getTime());
    expect(await check(f.member, { buildingId: A.buildingId })).toEqual({ allowed: false, grantId: '' });
    const { grants } = await h.access.listDoorGrants({ residentId: f.head }, asA());
    expect(grants).toEqual([{ ...grant, status: GrantStatus.GRANT_STATUS_EXPIRED }]);
  });

  it('is idempotent: same key and body -> same grant, no second event; other body -> ALREADY_EXISTS; concurrent -> one grant', async () => {
    const f = await family();
    const md = caller(h.issuer, { operators: [A.operatorId] });
    const req = issueRequest({ residentId: f.head });
    const first = await h.access.issueDoorGrant(req, md());
    const before = await counts(h.pg);
    expect(await h.access.issueDoorGrant(req, md())).toEqual(first);
    expect(await counts(h.pg)).toEqual(before);
    const err = await failure(h.access.issueDoorGrant({ ...req, buildingId: '', unitId: f.unitId }, md()));
    expect([err.code, errorField(err)]).toEqual([status.ALREADY_EXISTS, 'request_id']);
    expect(await counts(h.pg)).toEqual(before);

    const concurrent = issueRequest({ residentId: f.member, buildingId: '', unitId: f.unitId });
    const results = await Promise.all(
      Array.from({ length: 8 }, () => h.access.issueDoorGrant(concurrent, md())),
    );
    for (const r of results) expect(r).toEqual(results[0]);
    const afterIssue = await counts(h.pg);
    expect([afterIssue.door_grants - before.door_grants, afterIssue.outbox - before.outbox]).toEqual([1, 1]);

    // Revocation: replay of one key, and concurrent revocations under different keys -> one event.
    const key = randomUUID();
    const revoked = await revoke(first.grant!.grantId, key, staffA, md);
    expect(await revoke(first.grant!.grantId, key, staffA, md)).toEqual(revoked);
    const racing = await Promise.all(Array.from({ length: 6 }, () => revoke(results[0]!.grant!.grantId)));
    for (const r of racing) expect(r).toEqual(racing[0]);
    const afterRevoke = await counts(h.pg);
    expect(afterRevoke.outbox - afterIssue.outbox).toBe(2);
    const err2 = await failure(revoke(first.grant!.grantId, key, staffB, md));
    expect([err2.code, errorField(err2)]).toEqual([status.ALREADY_EXISTS, 'request_id']);
  });

  it('requires active property staff of the project to issue and revoke (FAILED_PRECONDITION naming the field), writing nothing', async () => {
    const f = await family();
    const { merchantStaff, admin, inactive } = await ineligibleStaff(h, asA, A, staffA);
    const otherProject = await registerStaff(h, asA, {
      operatorId: A.operatorId,
      projectId: A.otherProjectId,
    });
    const { grant } = await h.access.issueDoorGrant(issueRequest({ residentId: f.head }), asA());
    const before = await counts(h.pg);
    for (const staffId of [merchantStaff, admin, otherProject, inactive, staffB, randomUUID()]) {
      const issue = await failure(
        h.access.issueDoorGrant(issueRequest({ residentId: f.member, issuedByStaffId: staffId }), asAB()),
      );
      expect({ staffId, code: issue.code, field: errorField(issue) }).toEqual({
        staffId,
        code: status.FAILED_PRECONDITION,
        field: 'issued_by_staff_id',
      });
      const rev = await failure(revoke(grant!.grantId, randomUUID(), staffId, asAB));
      expect({ staffId, code: rev.code, field: errorField(rev) }).toEqual({
        staffId,
        code: status.FAILED_PRECONDITION,
        field: 'revoked_by_staff_id',
      });
    }
    expect(await counts(h.pg)).toEqual(before);
    expect((await check(f.head, { buildingId: A.buildingId })).allowed).toBe(true);
  });

  it("refuses a door outside the resident's project (INVALID_ARGUMENT naming it) and unknown ones (NOT_FOUND), writing nothing", async () => {
    const f = await family();
    const before = await counts(h.pg);
    const cases: [Partial<IssueDoorGrantRequest>, number, string | undefined][] = [
      [{ buildingId: A.otherBuildingId }, status.INVALID_ARGUMENT, 'building_id'],
      [{ buildingId: '', unitId: A.otherUnitId }, status.INVALID_ARGUMENT, 'unit_id'],
      [{ buildingId: randomUUID() }, status.NOT_FOUND, undefined],
      [{ buildingId: '', unitId: randomUUID() }, status.NOT_FOUND, undefined],
      // A door of another tenant looks exactly like a door that does not exist.
      [{ buildingId: B.buildingId }, status.NOT_FOUND, undefined],
      [{ residentId: randomUUID() }, status.NOT_FOUND, undefined],
      [{ buildingId: '', unitId: B.unitIds[0] }, status.NOT_FOUND, undefined],
    ];
    for (const [over, code, field] of cases) {
      const err = await failure(
        h.access.issueDoorGrant(issueRequest({ residentId: f.head, ...over }), asA()),
      );
      expect({ over, code: err.code, field: errorField(err) }).toEqual({ over, code, field });
    }
    expect(await counts(h.pg)).toEqual(before);
    expect((await failure(revoke(randomUUID()))).code).toBe(status.NOT_FOUND);
  });

  describe('bad input: INVALID_ARGUMENT naming the field, nothing written', () => {
    const uuid = () => randomUUID();
    const issue = (over: Partial<IssueDoorGrantRequest>) => () =>
      h.access.issueDoorGrant(issueRequest({ residentId: uuid(), ...over }), asA());
    const rows: [string, string, () => Promise<unknown>][] = [
      ['IssueDoorGrant empty request_id', 'request_id', issue({ requestId: '' })],
      ['IssueDoorGrant long request_id', 'request_id', issue({ requestId: 'k'.repeat(129) })],
      ['IssueDoorGrant empty resident_id', 'resident_id', issue({ residentId: '' })],
      ['IssueDoorGrant malformed resident_id', 'resident_id', issue({ residentId: 'resident-1' })],
      ['IssueDoorGrant no door', 'building_id', issue({ buildingId: '', unitId: '' })],
      ['IssueDoorGrant two doors', 'unit_id', issue({ unitId: uuid() })],
      ['IssueDoorGrant malformed building_id', 'building_id', issue({ buildingId: 'b' })],
      ['IssueDoorGrant malformed unit_id', 'unit_id', issue({ buildingId: '', unitId: 'u'.repeat(36) })],
      ['IssueDoorGrant empty issued_by_staff_id', 'issued_by_staff_id', issue({ issuedByStaffId: '' })],
      ['IssueDoorGrant malformed issued_by_staff_id', 'issued_by_staff_id', issue({ issuedByStaffId: '42' })],
      [
        'IssueDoorGrant valid_until in the past',
        'valid_until',
        issue({ validUntil: toTimestamp(new Date(Date.now() - 60_000)) }),
      ],
      [
        'IssueDoorGrant valid_until out of range',
        'valid_until',
        issue({ validUntil: { seconds: 10n ** 13n, nanos: 0 } }),
      ],
      [
        'RevokeDoorGrant empty request_id',
        'request_id',
        () => h.access.revokeDoorGrant({ requestId: '', grantId: uuid(), revokedByStaffId: staffA }, asA()),
      ],
      [
        'RevokeDoorGrant malformed grant_id',
        'grant_id',
        () => h.access.revokeDoorGrant({ requestId: uuid(), grantId: 'g', revokedByStaffId: staffA }, asA()),
      ],
      [
        'RevokeDoorGrant empty revoked_by_staff_id',
        'revoked_by_staff_id',
        () => h.access.revokeDoorGrant({ requestId: uuid(), grantId: uuid(), revokedByStaffId: '' }, asA()),
      ],
      [
        'CheckDoorAccess malformed resident_id',
        'resident_id',
        () => h.access.checkDoorAccess({ residentId: 'r', buildingId: A.buildingId, unitId: '' }, asA()),
      ],
      [
        'CheckDoorAccess no door',
        'building_id',
        () => h.access.checkDoorAccess({ residentId: uuid(), buildingId: '', unitId: '' }, asA()),
      ],
      [
        'CheckDoorAccess two doors',
        'unit_id',
        () =>
          h.access.checkDoorAccess({ residentId: uuid(), buildingId: A.buildingId, unitId: uuid() }, asA()),
      ],
      [
        'CheckDoorAccess malformed unit_id',
        'unit_id',
        () => h.access.checkDoorAccess({ residentId: uuid(), buildingId: '', unitId: '1' }, asA()),
      ],
      [
        'ListDoorGrants empty resident_id',
        'resident_id',
        () => h.access.listDoorGrants({ residentId: '' }, asA()),
      ],
      [
        'ListDoorGrants malformed resident_id',
        'resident_id',
        () => h.access.listDoorGrants({ residentId: `${uuid()}0` }, asA()),
      ],
    ];

    it.each(rows)('%s -> %s', async (_label, field, call) => {
      const before = await counts(h.pg);
      const err = await failure(call());
      expect({ code: err.code, field: errorField(err) }).toEqual({ code: status.INVALID_ARGUMENT, field });
      expect(err.details.startsWith(`${field}: `)).toBe(true);
      expect(await counts(h.pg)).toEqual(before);
    });

    it('covers every AccessService RPC', () => {
      expect([...new Set(rows.map(([label]) => label.split(' ')[0]))].sort()).toEqual([
        'CheckDoorAccess',
        'IssueDoorGrant',
        'ListDoorGrants',
        'RevokeDoorGrant',
      ]);
    });
  });

  it("gives a foreign tenant NOT_FOUND on reads and PERMISSION_DENIED on writes, with none of the other tenant's data", async () => {
    const f = await family();
    const { grant } = await h.access.issueDoorGrant(issueRequest({ residentId: f.head }), asA());
    const secrets = [A.operatorId, A.projectId, A.buildingId, grant!.grantId, staffA];
    const before = await counts(h.pg);
    const calls: [string, number, object, (req: never, md: Metadata) => Promise<unknown>][] = [
      [
        'CheckDoorAccess',
        status.NOT_FOUND,
        { residentId: f.head, buildingId: A.buildingId, unitId: '' },
        h.access.checkDoorAccess,
      ],
      ['ListDoorGrants', status.NOT_FOUND, { residentId: f.head }, h.access.listDoorGrants],
      [
        'IssueDoorGrant',
        status.PERMISSION_DENIED,
        issueRequest({ residentId: f.member, issuedByStaffId: staffB }),
        h.access.issueDoorGrant,
      ],
      [
        'RevokeDoorGrant',
        status.PERMISSION_DENIED,
        { requestId: randomUUID(), grantId: grant!.grantId, revokedByStaffId: staffB },
        h.access.revokeDoorGrant,
      ],
    ];
    for (const [name, code, req, call] of calls) {
      const err = await failure(call(req as never, asB()));
      expect({ name, code: err.code }).toEqual({ name, code });
      for (const s of secrets.filter((v) => !json(req).includes(v))) {
        expect({ name, s, leaked: `${err.details} ${json(err.metadata?.getMap())}`.includes(s) }).toEqual({
          name,
          s,
          leaked: false,
        });
      }
    }
    expect(await counts(h.pg)).toEqual(before);
    expect(await check(f.head, { buildingId: A.buildingId })).toEqual({
      allowed: true,
      grantId: grant!.grantId,
    });
    // A client bound to another project of the same operator sees nothing either.
    const otherProject = caller(h.issuer, { projects: [A.otherProjectId] });
    expect((await failure(check(f.head, { buildingId: A.buildingId }, otherProject))).code).toBe(
      status.NOT_FOUND,
    );
  });
});
