import { forwardRef, Inject, Injectable } from '@nestjs/common';
import {
  CitybaseClaims,
  DomainError,
  Mutations,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import {
  HouseholdRole,
  StaffRole,
  VerificationStatus,
} from '@citybase/contracts/citybase/identity/v1/people';
import { PiiCipher } from '../shared/pii';
import { readable, writable } from '../shared/rows.domain';
import type { Cyclic } from '../shared/forward-ref';
import { PII_CIPHER } from '../shared/shared.module';
import { MerchantsService } from '../merchants/merchants.service';
import { TenancyService } from '../tenancy/tenancy.service';
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
  findResident,
  findResidentIdByPhone,
  findResidentPlacement,
  findStaff,
  findStaffForShare,
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
  ResidentPlacementRow,
  ResidentRow,
  StaffRow,
} from './people.store';

export interface HouseholdView {
  household: HouseholdRow;
  members: HouseholdMemberRow[];
}

/**
 * Use cases of residents, households, staff and couriers. Every mutation runs through the use-case
 * pipeline (Mutations), in one transaction: request key, checks against stored rows (the tenancy
 * tree's through TenancyService), the write and its single event. Reads of a resource
 * outside the caller's tenancy answer NOT_FOUND, as if it did not exist; writes under a parent
 * outside it answer PERMISSION_DENIED.
 */
@Injectable()
export class PeopleService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
    @Inject(PII_CIPHER) private readonly pii: PiiCipher,
    private readonly tenancy: TenancyService,
    // Merchants and people refer to each other (a merchant's staff; the staff acting on a merchant):
    // a circular Nest dependency, resolved lazily on both sides.
    @Inject(forwardRef(() => MerchantsService)) private readonly merchants: Cyclic<MerchantsService>,
  ) {}

  // ---- residents ----

  async registerResident(claims: CitybaseClaims, cmd: RegisterResidentCommand): Promise<ResidentRow> {
    const phone = this.pii.seal('phone', cmd.phone, PiiContext.residentPhone);
    const idNumber = this.pii.seal('id_number', cmd.idNumber, PiiContext.residentIdNumber);
    return this.mutations.run({
      method: 'PeopleService.RegisterResident',
      claims,
      requestId: cmd.requestId,
      command: fingerprintOf(cmd, { phone: phone.hash, idNumber: idNumber.hash }),
      done: 'resident registered',
      execute: async ({ client, resourceId: residentId, emit, note }) => {
        const project = await this.writableProject(client, claims, cmd.projectId);
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
        await emit(
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
        note({ resident_id: residentId, project_id: project.project_id });
        return this.readableResident(client, claims, residentId);
      },
      replay: ({ client, resourceId }) => this.readableResident(client, claims, resourceId),
    });
  }

  async verifyResident(claims: CitybaseClaims, cmd: VerifyResidentCommand): Promise<ResidentRow> {
    return this.mutations.run({
      method: 'PeopleService.VerifyResident',
      claims,
      requestId: cmd.requestId,
      command: fingerprintOf(cmd, {}),
      // the key's resource is the resident the request names (same key, same request)
      resourceId: cmd.residentId,
      done: 'resident verified',
      execute: async ({ client, emit, note }) => {
        const resident = writable(claims, await lockResident(client, cmd.residentId), () =>
          DomainError.notFound('resident', cmd.residentId, 'RESIDENT_NOT_FOUND'),
        );
        if (!(await isActivePropertyStaff(client, cmd.verifiedByStaffId, resident.project_id))) {
          throw PeopleErrors.notPropertyStaff('verified_by_staff_id', "the resident's project");
        }
        // Verifying a verified resident changes nothing and tells nobody.
        const verified = resident.verification_status !== VerificationStatus.VERIFICATION_STATUS_VERIFIED;
        note({
          resident_id: resident.resident_id,
          verified_by_staff_id: cmd.verifiedByStaffId,
          changed: verified,
        });
        if (verified) {
          const verifiedAt = await markResidentVerified(client, resident.resident_id, cmd.verifiedByStaffId);
          await emit(
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
        }
        return this.readableResident(client, claims, cmd.residentId);
      },
      replay: ({ client }) => this.readableResident(client, claims, cmd.residentId),
    });
  }

  async getResident(claims: CitybaseClaims, residentId: string): Promise<ResidentRow> {
    return this.readableResident(this.pool, claims, residentId);
  }

  async findResidentByPhone(claims: CitybaseClaims, query: FindResidentByPhoneQuery): Promise<ResidentRow> {
    const hash = this.pii.lookupHash('phone', query.phone);
    const residentId = await findResidentIdByPhone(this.pool, query.projectId, hash);
    const row = residentId ? await findResident(this.pool, residentId) : undefined;
    return readable(
      claims,
      row,
      () =>
        new DomainError(
          'not_found',
          'RESIDENT_NOT_FOUND',
          `no resident with this phone in project ${query.projectId}`,
        ),
    );
  }

  // ---- households ----

  async createHousehold(claims: CitybaseClaims, cmd: CreateHouseholdCommand): Promise<HouseholdView> {
    return this.mutations.run({
      method: 'PeopleService.CreateHousehold',
      claims,
      requestId: cmd.requestId,
      command: fingerprintOf(cmd, {}),
      done: 'household created',
      execute: async ({ client, resourceId: householdId, emit, note }) => {
        const unit = writable(claims, await this.tenancy.findUnit(client, cmd.unitId), () =>
          DomainError.notFound('unit', cmd.unitId, 'UNIT_NOT_FOUND'),
        );
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
        await emit(
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
        note({ household_id: householdId, unit_id: unit.unit_id, head_resident_id: head.resident_id });
        return this.readableHousehold(client, claims, householdId);
      },
      replay: ({ client, resourceId }) => this.readableHousehold(client, claims, resourceId),
    });
  }

  async bindHouseholdMember(claims: CitybaseClaims, cmd: BindHouseholdMemberCommand): Promise<HouseholdView> {
    const phoneHash = this.pii.lookupHash('phone', cmd.phone);
    return this.mutations.run({
      method: 'PeopleService.BindHouseholdMember',
      claims,
      requestId: cmd.requestId,
      command: fingerprintOf(cmd, { phone: phoneHash }),
      // the key's resource is the household the request names (same key, same request)
      resourceId: cmd.householdId,
      done: 'household member bound',
      execute: async ({ client, emit, note }) => {
        const household = writable(claims, await findHousehold(client, cmd.householdId), () =>
          DomainError.notFound('household', cmd.householdId, 'HOUSEHOLD_NOT_FOUND'),
        );
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
        await emit(
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
        note({ household_id: cmd.householdId, resident_id: resident.resident_id });
        return this.readableHousehold(client, claims, cmd.householdId);
      },
      replay: ({ client }) => this.readableHousehold(client, claims, cmd.householdId),
    });
  }

  async getHousehold(claims: CitybaseClaims, householdId: string): Promise<HouseholdView> {
    return this.readableHousehold(this.pool, claims, householdId);
  }

  // ---- staff ----

  async registerStaff(claims: CitybaseClaims, cmd: RegisterStaffCommand): Promise<StaffRow> {
    const phone = this.pii.seal('phone', cmd.phone, PiiContext.staffPhone);
    return this.mutations.run({
      method: 'PeopleService.RegisterStaff',
      claims,
      requestId: cmd.requestId,
      command: fingerprintOf(cmd, { phone: phone.hash }),
      done: 'staff registered',
      execute: async ({ client, resourceId: staffId, emit, note }) => {
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
        await emit(
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
        note({ staff_id: staffId, operator_id: cmd.operatorId, project_id: projectId, role: cmd.role });
        return this.readableStaff(client, claims, staffId);
      },
      replay: ({ client, resourceId }) => this.readableStaff(client, claims, resourceId),
    });
  }

  /**
   * The stored tenancy rows behind a staff placement: they exist, lie in the caller's tenancy and
   * nest as the request says (the project is the operator's, the merchant the project's).
   */
  private async checkStaffPlacement(client: PoolClient, claims: CitybaseClaims, cmd: RegisterStaffCommand) {
    if (cmd.role === StaffRole.STAFF_ROLE_OPERATOR_ADMIN) {
      writable(claims, await this.tenancy.findOperator(client, cmd.operatorId), () =>
        DomainError.notFound('operator', cmd.operatorId, 'OPERATOR_NOT_FOUND'),
      );
      return;
    }
    const project = await this.writableProject(client, claims, cmd.projectId);
    if (project.operator_id !== cmd.operatorId) {
      throw DomainError.invalid(
        'tenancy.project_id',
        'must be a project of tenancy.operator_id',
        'TENANCY_MISMATCH',
      );
    }
    if (cmd.role !== StaffRole.STAFF_ROLE_MERCHANT_STAFF) return;
    const merchant = readable(claims, await this.merchants.findMerchant(client, cmd.merchantId), () =>
      DomainError.notFound('merchant', cmd.merchantId, 'MERCHANT_NOT_FOUND'),
    );
    if (merchant.project_id !== project.project_id) {
      throw DomainError.invalid(
        'tenancy.merchant_id',
        'must be a merchant of tenancy.project_id',
        'TENANCY_MISMATCH',
      );
    }
  }

  async getStaff(claims: CitybaseClaims, staffId: string): Promise<StaffRow> {
    return this.readableStaff(this.pool, claims, staffId);
  }

  /**
   * True if the staff member is active property staff of the project, share-locking the row until
   * the end of the caller's transaction (it cannot be deactivated or moved while the write commits).
   */
  isActivePropertyStaff(client: PoolClient, staffId: string, projectId: string): Promise<boolean> {
    return isActivePropertyStaff(client, staffId, projectId);
  }

  /**
   * The staff row, whatever the caller's tenancy (the calling feature checks it), share-locked until
   * the end of the caller's transaction.
   */
  findStaffForShare(client: PoolClient, staffId: string): Promise<StaffRow | undefined> {
    return findStaffForShare(client, staffId);
  }

  /**
   * Where the resident is placed and who shares the resident's door grants (the resident and its
   * household), whatever the caller's tenancy (the calling feature checks it).
   */
  findResidentPlacement(
    db: Pool | PoolClient,
    residentId: string,
  ): Promise<ResidentPlacementRow | undefined> {
    return findResidentPlacement(db, residentId);
  }

  // ---- couriers ----

  async registerCourier(claims: CitybaseClaims, cmd: RegisterCourierCommand): Promise<CourierRow> {
    const phone = this.pii.seal('phone', cmd.phone, PiiContext.courierPhone);
    const idNumber = this.pii.seal('id_number', cmd.idNumber, PiiContext.courierIdNumber);
    return this.mutations.run({
      method: 'PeopleService.RegisterCourier',
      claims,
      requestId: cmd.requestId,
      command: fingerprintOf(cmd, { phone: phone.hash, idNumber: idNumber.hash }),
      done: 'courier registered',
      execute: async ({ client, resourceId: courierId, emit, note }) => {
        const project = await this.writableProject(client, claims, cmd.projectId);
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
        await emit(
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
        note({ courier_id: courierId, project_id: project.project_id });
        return this.readableCourier(client, claims, courierId);
      },
      replay: ({ client, resourceId }) => this.readableCourier(client, claims, resourceId),
    });
  }

  async getCourier(claims: CitybaseClaims, courierId: string): Promise<CourierRow> {
    return this.readableCourier(this.pool, claims, courierId);
  }

  // ---- reads inside the caller's tenancy (NOT_FOUND outside it) ----

  private async readableResident(
    db: Pool | PoolClient,
    claims: CitybaseClaims,
    residentId: string,
  ): Promise<ResidentRow> {
    return readable(claims, await findResident(db, residentId), () =>
      DomainError.notFound('resident', residentId, 'RESIDENT_NOT_FOUND'),
    );
  }

  private async readableHousehold(
    db: Pool | PoolClient,
    claims: CitybaseClaims,
    householdId: string,
  ): Promise<HouseholdView> {
    const household = readable(claims, await findHousehold(db, householdId), () =>
      DomainError.notFound('household', householdId, 'HOUSEHOLD_NOT_FOUND'),
    );
    return { household, members: await listHouseholdMembers(db, householdId) };
  }

  private async readableStaff(
    db: Pool | PoolClient,
    claims: CitybaseClaims,
    staffId: string,
  ): Promise<StaffRow> {
    return readable(claims, await findStaff(db, staffId), () =>
      DomainError.notFound('staff', staffId, 'STAFF_NOT_FOUND'),
    );
  }

  private async readableCourier(
    db: Pool | PoolClient,
    claims: CitybaseClaims,
    courierId: string,
  ): Promise<CourierRow> {
    return readable(claims, await findCourier(db, courierId), () =>
      DomainError.notFound('courier', courierId, 'COURIER_NOT_FOUND'),
    );
  }

  /**
   * The project a write places a resident, courier or staff member in: NOT_FOUND if there is none,
   * PERMISSION_DENIED if it lies outside the caller's tenancy.
   */
  private async writableProject(client: PoolClient, claims: CitybaseClaims, projectId: string) {
    const project = writable(claims, await this.tenancy.findProject(client, projectId), () =>
      DomainError.notFound('project', projectId, 'PROJECT_NOT_FOUND'),
    );
    return project;
  }
}

/** Identity facts are keyed by operator, so a consumer sees one operator's facts in order. */
function eventOptions(operatorId: string, projectId: string | undefined, subject: string) {
  return { key: operatorId, subject, tenancy: { operatorId, ...(projectId && { projectId }) } };
}
