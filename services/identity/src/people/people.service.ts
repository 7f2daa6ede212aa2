import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  DomainError,
  inTenancy,
  Logger,
  LOGGER,
  Outbox,
  OUTBOX,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import {
  HouseholdRole,
  StaffRole,
  VerificationStatus,
} from '@citybase/contracts/citybase/identity/v1/people';
import { onceByRequestId } from '@citybase/platform';
import { PiiCipher } from '../shared/pii';
import { PII_CIPHER } from '../shared/shared.module';
import {
  BindHouseholdMemberCommand,
  CreateHouseholdCommand,
  FindResidentByPhoneQuery,
  fingerprintOf,
  PiiContext,
  RegisterCourierCommand,
  RegisterResidentCommand,
  RegisterStaffCommand,
  VerifyResidentCommand,
} from './people.domain';
import { PeopleErrors } from './people.errors';
import {
  CourierRow,
  findCourier,
  findHousehold,
  findHouseholdByUnit,
  findMerchant,
  findOperator,
  findProject,
  findResident,
  findResidentIdByPhone,
  findStaff,
  findUnit,
  HouseholdMemberRow,
  HouseholdRow,
  insertCourier,
  insertHousehold,
  insertHouseholdMember,
  insertResident,
  insertStaff,
  isActivePropertyStaff,
  isUniqueViolation,
  listHouseholdMembers,
  lockResident,
  markResidentVerified,
  ResidentRow,
  StaffRow,
} from './people.store';

export interface HouseholdView {
  household: HouseholdRow;
  members: HouseholdMemberRow[];
}

/**
 * Use cases of residents, households, staff and couriers. Every mutation runs in one transaction:
 * idempotency key, checks against stored rows, the write and its single event. Reads of a resource
 * outside the caller's tenancy answer NOT_FOUND, as if it did not exist; writes under a parent
 * outside it answer PERMISSION_DENIED.
 */
@Injectable()
export class PeopleService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(PII_CIPHER) private readonly pii: PiiCipher,
  ) {}

  // ---- residents ----

  async registerResident(claims: CitybaseClaims, cmd: RegisterResidentCommand): Promise<ResidentRow> {
    const phone = this.pii.seal('phone', cmd.phone, PiiContext.residentPhone);
    const idNumber = this.pii.seal('id_number', cmd.idNumber, PiiContext.residentIdNumber);
    const { resourceId, replayed } = await withTransaction(this.pool, (client) =>
      onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'PeopleService.RegisterResident',
          requestId: cmd.requestId,
          command: fingerprintOf(cmd, { phone: phone.hash, idNumber: idNumber.hash }),
        },
        async (residentId) => {
          const project = await findProject(client, cmd.projectId);
          if (!project) throw DomainError.notFound('project', cmd.projectId, 'PROJECT_NOT_FOUND');
          assertTenancy(claims, { operatorId: project.operator_id, projectId: project.project_id });
          if (await findResidentIdByPhone(client, project.project_id, phone.hash))
            throw PeopleErrors.phoneTaken();
          const createdAt = await insertResident(client, {
            residentId,
            operatorId: project.operator_id,
            projectId: project.project_id,
            name: cmd.name,
            phone,
            idNumber,
          }).catch((err: unknown) => {
            // A concurrent registration of the same phone committed first.
            throw isUniqueViolation(err, 'residents_project_phone') ? PeopleErrors.phoneTaken() : err;
          });
          await this.outbox.enqueue(
            client,
            IdentityEvents.ResidentRegistered,
            {
              residentId,
              projectId: project.project_id,
              operatorId: project.operator_id,
              phoneMasked: phone.masked,
              occurredAt: toTimestamp(createdAt),
            },
            eventOptions(project.operator_id, project.project_id, residentId),
          );
        },
      ),
    );
    const resident = await this.readableResident(claims, resourceId);
    if (!replayed) {
      this.logger.info({ resident_id: resourceId, project_id: resident.project_id }, 'resident registered');
    }
    return resident;
  }

  async verifyResident(claims: CitybaseClaims, cmd: VerifyResidentCommand): Promise<ResidentRow> {
    let verified = false;
    await withTransaction(this.pool, (client) => {
      verified = false; // a retried transaction starts over
      return onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'PeopleService.VerifyResident',
          requestId: cmd.requestId,
          command: fingerprintOf(cmd, {}),
        },
        async () => {
          const resident = await lockResident(client, cmd.residentId);
          if (!resident) throw DomainError.notFound('resident', cmd.residentId, 'RESIDENT_NOT_FOUND');
          assertTenancy(claims, { operatorId: resident.operator_id, projectId: resident.project_id });
          if (!(await isActivePropertyStaff(client, cmd.verifiedByStaffId, resident.project_id))) {
            throw PeopleErrors.notPropertyStaff('verified_by_staff_id', "the resident's project");
          }
          // Verifying a verified resident changes nothing and tells nobody.
          if (resident.verification_status === VerificationStatus.VERIFICATION_STATUS_VERIFIED) return;
          const verifiedAt = await markResidentVerified(client, resident.resident_id, cmd.verifiedByStaffId);
          await this.outbox.enqueue(
            client,
            IdentityEvents.ResidentVerified,
            {
              residentId: resident.resident_id,
              projectId: resident.project_id,
              operatorId: resident.operator_id,
              verifiedByStaffId: cmd.verifiedByStaffId,
              occurredAt: toTimestamp(verifiedAt),
            },
            eventOptions(resident.operator_id, resident.project_id, resident.resident_id),
          );
          verified = true;
        },
      );
    });
    // The resource of this mutation is the resident named in the request (same key, same request).
    const resident = await this.readableResident(claims, cmd.residentId);
    if (verified) {
      this.logger.info(
        { resident_id: resident.resident_id, verified_by_staff_id: cmd.verifiedByStaffId },
        'resident verified',
      );
    }
    return resident;
  }

  async getResident(claims: CitybaseClaims, residentId: string): Promise<ResidentRow> {
    return this.readableResident(claims, residentId);
  }

  async findResidentByPhone(claims: CitybaseClaims, query: FindResidentByPhoneQuery): Promise<ResidentRow> {
    const hash = this.pii.lookupHash('phone', query.phone);
    const residentId = await findResidentIdByPhone(this.pool, query.projectId, hash);
    const row = residentId ? await findResident(this.pool, residentId) : undefined;
    if (!row || !inTenancy(claims, { operatorId: row.operator_id, projectId: row.project_id })) {
      throw new DomainError(
        'not_found',
        'RESIDENT_NOT_FOUND',
        `no resident with this phone in project ${query.projectId}`,
      );
    }
    return row;
  }

  // ---- households ----

  async createHousehold(claims: CitybaseClaims, cmd: CreateHouseholdCommand): Promise<HouseholdView> {
    const { resourceId, replayed } = await withTransaction(this.pool, (client) =>
      onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'PeopleService.CreateHousehold',
          requestId: cmd.requestId,
          command: fingerprintOf(cmd, {}),
        },
        async (householdId) => {
          const unit = await findUnit(client, cmd.unitId);
          if (!unit) throw DomainError.notFound('unit', cmd.unitId, 'UNIT_NOT_FOUND');
          assertTenancy(claims, { operatorId: unit.operator_id, projectId: unit.project_id });
          if (await findHouseholdByUnit(client, unit.unit_id)) throw PeopleErrors.unitHasHousehold();
          const head = await lockResident(client, cmd.headResidentId);
          if (!head || head.project_id !== unit.project_id) {
            throw PeopleErrors.headIneligible("must be a resident of the unit's project");
          }
          if (head.verification_status !== VerificationStatus.VERIFICATION_STATUS_VERIFIED) {
            throw PeopleErrors.headIneligible('must be a verified resident');
          }
          if (head.household_id) throw PeopleErrors.headIneligible('is already in a household');
          const createdAt = await insertHousehold(client, {
            householdId,
            operatorId: unit.operator_id,
            projectId: unit.project_id,
            unitId: unit.unit_id,
            headResidentId: head.resident_id,
          }).catch((err: unknown) => {
            throw isUniqueViolation(err, 'households_unit_id_key') ? PeopleErrors.unitHasHousehold() : err;
          });
          await insertHouseholdMember(client, {
            householdId,
            residentId: head.resident_id,
            role: HouseholdRole.HOUSEHOLD_ROLE_HEAD,
            relation: '',
          }).catch((err: unknown) => {
            throw isUniqueViolation(err, 'household_members_pkey')
              ? PeopleErrors.headIneligible('is already in a household')
              : err;
          });
          await this.outbox.enqueue(
            client,
            IdentityEvents.HouseholdCreated,
            {
              householdId,
              unitId: unit.unit_id,
              projectId: unit.project_id,
              operatorId: unit.operator_id,
              headResidentId: head.resident_id,
              occurredAt: toTimestamp(createdAt),
            },
            eventOptions(unit.operator_id, unit.project_id, householdId),
          );
        },
      ),
    );
    const view = await this.readableHousehold(claims, resourceId);
    if (!replayed) {
      this.logger.info(
        {
          household_id: resourceId,
          unit_id: view.household.unit_id,
          head_resident_id: view.household.head_resident_id,
        },
        'household created',
      );
    }
    return view;
  }

  async bindHouseholdMember(claims: CitybaseClaims, cmd: BindHouseholdMemberCommand): Promise<HouseholdView> {
    const phoneHash = this.pii.lookupHash('phone', cmd.phone);
    let boundResidentId: string | undefined;
    await withTransaction(this.pool, (client) => {
      boundResidentId = undefined; // a retried transaction starts over
      return onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'PeopleService.BindHouseholdMember',
          requestId: cmd.requestId,
          command: fingerprintOf(cmd, { phone: phoneHash }),
        },
        async () => {
          const household = await findHousehold(client, cmd.householdId);
          if (!household) throw DomainError.notFound('household', cmd.householdId, 'HOUSEHOLD_NOT_FOUND');
          assertTenancy(claims, { operatorId: household.operator_id, projectId: household.project_id });
          const residentId = await findResidentIdByPhone(client, household.project_id, phoneHash);
          const resident = residentId ? await lockResident(client, residentId) : undefined;
          if (!resident) throw PeopleErrors.memberNotFound();
          if (resident.household_id) throw PeopleErrors.memberInHousehold();
          const member = await insertHouseholdMember(client, {
            householdId: household.household_id,
            residentId: resident.resident_id,
            role: HouseholdRole.HOUSEHOLD_ROLE_MEMBER,
            relation: cmd.relation,
          }).catch((err: unknown) => {
            // A concurrent bind of the same resident (to this or another household) committed first.
            throw isUniqueViolation(err, 'household_members_pkey') ? PeopleErrors.memberInHousehold() : err;
          });
          await this.outbox.enqueue(
            client,
            IdentityEvents.HouseholdMemberBound,
            {
              householdId: household.household_id,
              residentId: resident.resident_id,
              projectId: household.project_id,
              operatorId: household.operator_id,
              role: HouseholdRole.HOUSEHOLD_ROLE_MEMBER,
              relation: member.relation,
              occurredAt: toTimestamp(member.bound_at),
            },
            eventOptions(household.operator_id, household.project_id, household.household_id),
          );
          boundResidentId = resident.resident_id;
        },
      );
    });
    const view = await this.readableHousehold(claims, cmd.householdId);
    if (boundResidentId) {
      this.logger.info(
        { household_id: cmd.householdId, resident_id: boundResidentId },
        'household member bound',
      );
    }
    return view;
  }

  async getHousehold(claims: CitybaseClaims, householdId: string): Promise<HouseholdView> {
    return this.readableHousehold(claims, householdId);
  }

  // ---- staff ----

  async registerStaff(claims: CitybaseClaims, cmd: RegisterStaffCommand): Promise<StaffRow> {
    const phone = this.pii.seal('phone', cmd.phone, PiiContext.staffPhone);
    const { resourceId, replayed } = await withTransaction(this.pool, (client) =>
      onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'PeopleService.RegisterStaff',
          requestId: cmd.requestId,
          command: fingerprintOf(cmd, { phone: phone.hash }),
        },
        async (staffId) => {
          await this.checkStaffPlacement(client, claims, cmd);
          const projectId = cmd.role === StaffRole.STAFF_ROLE_OPERATOR_ADMIN ? null : cmd.projectId;
          const merchantId = cmd.role === StaffRole.STAFF_ROLE_MERCHANT_STAFF ? cmd.merchantId : null;
          const createdAt = await insertStaff(client, {
            staffId,
            operatorId: cmd.operatorId,
            projectId,
            merchantId,
            role: cmd.role,
            name: cmd.name,
            phone,
          });
          await this.outbox.enqueue(
            client,
            IdentityEvents.StaffRegistered,
            {
              staffId,
              operatorId: cmd.operatorId,
              projectId: projectId ?? '',
              merchantId: merchantId ?? '',
              role: cmd.role,
              occurredAt: toTimestamp(createdAt),
            },
            eventOptions(cmd.operatorId, projectId ?? undefined, staffId),
          );
        },
      ),
    );
    const staff = await this.readableStaff(claims, resourceId);
    if (!replayed) {
      this.logger.info(
        {
          staff_id: resourceId,
          operator_id: staff.operator_id,
          project_id: staff.project_id,
          role: staff.role,
        },
        'staff registered',
      );
    }
    return staff;
  }

  /**
   * The stored tenancy rows behind a staff placement: they exist, lie in the caller's tenancy and
   * nest as the request says (the project is the operator's, the merchant the project's).
   */
  private async checkStaffPlacement(client: PoolClient, claims: CitybaseClaims, cmd: RegisterStaffCommand) {
    if (cmd.role === StaffRole.STAFF_ROLE_OPERATOR_ADMIN) {
      const operator = await findOperator(client, cmd.operatorId);
      if (!operator) throw DomainError.notFound('operator', cmd.operatorId, 'OPERATOR_NOT_FOUND');
      assertTenancy(claims, { operatorId: operator.operator_id });
      return;
    }
    const project = await findProject(client, cmd.projectId);
    if (!project) throw DomainError.notFound('project', cmd.projectId, 'PROJECT_NOT_FOUND');
    assertTenancy(claims, { operatorId: project.operator_id, projectId: project.project_id });
    if (project.operator_id !== cmd.operatorId) {
      throw DomainError.invalid(
        'tenancy.project_id',
        'must be a project of tenancy.operator_id',
        'TENANCY_MISMATCH',
      );
    }
    if (cmd.role !== StaffRole.STAFF_ROLE_MERCHANT_STAFF) return;
    const merchant = await findMerchant(client, cmd.merchantId);
    if (
      !merchant ||
      !inTenancy(claims, { operatorId: merchant.operator_id, projectId: merchant.project_id })
    ) {
      throw DomainError.notFound('merchant', cmd.merchantId, 'MERCHANT_NOT_FOUND');
    }
    if (merchant.project_id !== project.project_id) {
      throw DomainError.invalid(
        'tenancy.merchant_id',
        'must be a merchant of tenancy.project_id',
        'TENANCY_MISMATCH',
      );
    }
  }

  async getStaff(claims: CitybaseClaims, staffId: string): Promise<StaffRow> {
    return this.readableStaff(claims, staffId);
  }

  // ---- couriers ----

  async registerCourier(claims: CitybaseClaims, cmd: RegisterCourierCommand): Promise<CourierRow> {
    const phone = this.pii.seal('phone', cmd.phone, PiiContext.courierPhone);
    const idNumber = this.pii.seal('id_number', cmd.idNumber, PiiContext.courierIdNumber);
    const { resourceId, replayed } = await withTransaction(this.pool, (client) =>
      onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'PeopleService.RegisterCourier',
          requestId: cmd.requestId,
          command: fingerprintOf(cmd, { phone: phone.hash, idNumber: idNumber.hash }),
        },
        async (courierId) => {
          const project = await findProject(client, cmd.projectId);
          if (!project) throw DomainError.notFound('project', cmd.projectId, 'PROJECT_NOT_FOUND');
          assertTenancy(claims, { operatorId: project.operator_id, projectId: project.project_id });
          const createdAt = await insertCourier(client, {
            courierId,
            operatorId: project.operator_id,
            projectId: project.project_id,
            name: cmd.name,
            phone,
            idNumber,
            photoRef: cmd.photoRef,
            employer: cmd.employer,
          });
          await this.outbox.enqueue(
            client,
            IdentityEvents.CourierRegistered,
            {
              courierId,
              projectId: project.project_id,
              operatorId: project.operator_id,
              employer: cmd.employer,
              occurredAt: toTimestamp(createdAt),
            },
            eventOptions(project.operator_id, project.project_id, courierId),
          );
        },
      ),
    );
    const courier = await this.readableCourier(claims, resourceId);
    if (!replayed) {
      this.logger.info({ courier_id: resourceId, project_id: courier.project_id }, 'courier registered');
    }
    return courier;
  }

  async getCourier(claims: CitybaseClaims, courierId: string): Promise<CourierRow> {
    return this.readableCourier(claims, courierId);
  }

  // ---- reads inside the caller's tenancy (NOT_FOUND outside it) ----

  private async readableResident(claims: CitybaseClaims, residentId: string): Promise<ResidentRow> {
    const row = await findResident(this.pool, residentId);
    if (!row || !inTenancy(claims, { operatorId: row.operator_id, projectId: row.project_id })) {
      throw DomainError.notFound('resident', residentId, 'RESIDENT_NOT_FOUND');
    }
    return row;
  }

  private async readableHousehold(claims: CitybaseClaims, householdId: string): Promise<HouseholdView> {
    const household = await findHousehold(this.pool, householdId);
    if (
      !household ||
      !inTenancy(claims, { operatorId: household.operator_id, projectId: household.project_id })
    ) {
      throw DomainError.notFound('household', householdId, 'HOUSEHOLD_NOT_FOUND');
    }
    return { household, members: await listHouseholdMembers(this.pool, householdId) };
  }

  private async readableStaff(claims: CitybaseClaims, staffId: string): Promise<StaffRow> {
    const row = await findStaff(this.pool, staffId);
    if (!row || !inTenancy(claims, { operatorId: row.operator_id, projectId: row.project_id ?? undefined })) {
      throw DomainError.notFound('staff', staffId, 'STAFF_NOT_FOUND');
    }
    return row;
  }

  private async readableCourier(claims: CitybaseClaims, courierId: string): Promise<CourierRow> {
    const row = await findCourier(this.pool, courierId);
    if (!row || !inTenancy(claims, { operatorId: row.operator_id, projectId: row.project_id })) {
      throw DomainError.notFound('courier', courierId, 'COURIER_NOT_FOUND');
    }
    return row;
  }
}

/** Identity facts are keyed by operator, so a consumer sees one operator's facts in order. */
function eventOptions(operatorId: string, projectId: string | undefined, subject: string) {
  return { key: operatorId, subject, tenancy: { operatorId, ...(projectId && { projectId }) } };
}
