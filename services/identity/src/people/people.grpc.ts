import type { Metadata } from '@grpc/grpc-js';
import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { CitybaseClaims, claimsOf, hasScope, requiredUuid, toTimestamp } from '@citybase/platform';
import {
  BindHouseholdMemberRequest,
  BindHouseholdMemberResponse,
  Courier,
  CreateHouseholdRequest,
  CreateHouseholdResponse,
  FindResidentByPhoneRequest,
  FindResidentByPhoneResponse,
  GetCourierRequest,
  GetCourierResponse,
  GetHouseholdRequest,
  GetHouseholdResponse,
  GetResidentRequest,
  GetResidentResponse,
  GetStaffRequest,
  GetStaffResponse,
  Household,
  RegisterCourierRequest,
  RegisterCourierResponse,
  RegisterResidentRequest,
  RegisterResidentResponse,
  RegisterStaffRequest,
  RegisterStaffResponse,
  Resident,
  Staff,
  VerifyResidentRequest,
  VerifyResidentResponse,
} from '@citybase/contracts/citybase/identity/v1/people';
import { PiiCipher } from '../shared/pii';
import { PII_CIPHER } from '../shared/shared.module';
import {
  PII_READ_SCOPE,
  PiiContext,
  toBindHouseholdMemberCommand,
  toCreateHouseholdCommand,
  toFindResidentByPhoneQuery,
  toRegisterCourierCommand,
  toRegisterResidentCommand,
  toRegisterStaffCommand,
  toVerifyResidentCommand,
} from './people.domain';
import { HouseholdView, PeopleService } from './people.service';
import type { CourierRow, ResidentRow, StaffRow } from './people.store';

/** Transport adapter: proto in (validated into a command), use case, proto out (masked per caller). */
@Controller()
export class PeopleGrpc {
  constructor(
    private readonly people: PeopleService,
    @Inject(PII_CIPHER) private readonly pii: PiiCipher,
  ) {}

  @GrpcMethod('PeopleService', 'registerResident')
  async registerResident(
    req: RegisterResidentRequest,
    metadata: Metadata,
  ): Promise<RegisterResidentResponse> {
    const claims = claimsOf(metadata);
    const row = await this.people.registerResident(claims, toRegisterResidentCommand(req));
    return { resident: this.resident(row, claims) };
  }

  @GrpcMethod('PeopleService', 'verifyResident')
  async verifyResident(req: VerifyResidentRequest, metadata: Metadata): Promise<VerifyResidentResponse> {
    const claims = claimsOf(metadata);
    const row = await this.people.verifyResident(claims, toVerifyResidentCommand(req));
    return { resident: this.resident(row, claims) };
  }

  @GrpcMethod('PeopleService', 'getResident')
  async getResident(req: GetResidentRequest, metadata: Metadata): Promise<GetResidentResponse> {
    const claims = claimsOf(metadata);
    const row = await this.people.getResident(claims, requiredUuid('resident_id', req.residentId));
    return { resident: this.resident(row, claims) };
  }

  @GrpcMethod('PeopleService', 'findResidentByPhone')
  async findResidentByPhone(
    req: FindResidentByPhoneRequest,
    metadata: Metadata,
  ): Promise<FindResidentByPhoneResponse> {
    const claims = claimsOf(metadata);
    const row = await this.people.findResidentByPhone(claims, toFindResidentByPhoneQuery(req));
    return { resident: this.resident(row, claims) };
  }

  @GrpcMethod('PeopleService', 'createHousehold')
  async createHousehold(req: CreateHouseholdRequest, metadata: Metadata): Promise<CreateHouseholdResponse> {
    const claims = claimsOf(metadata);
    return { household: household(await this.people.createHousehold(claims, toCreateHouseholdCommand(req))) };
  }

  @GrpcMethod('PeopleService', 'bindHouseholdMember')
  async bindHouseholdMember(
    req: BindHouseholdMemberRequest,
    metadata: Metadata,
  ): Promise<BindHouseholdMemberResponse> {
    const claims = claimsOf(metadata);
    return {
      household: household(await this.people.bindHouseholdMember(claims, toBindHouseholdMemberCommand(req))),
    };
  }

  @GrpcMethod('PeopleService', 'getHousehold')
  async getHousehold(req: GetHouseholdRequest, metadata: Metadata): Promise<GetHouseholdResponse> {
    const claims = claimsOf(metadata);
    const householdId = requiredUuid('household_id', req.householdId);
    return { household: household(await this.people.getHousehold(claims, householdId)) };
  }

  @GrpcMethod('PeopleService', 'registerStaff')
  async registerStaff(req: RegisterStaffRequest, metadata: Metadata): Promise<RegisterStaffResponse> {
    const claims = claimsOf(metadata);
    const row = await this.people.registerStaff(claims, toRegisterStaffCommand(req));
    return { staff: this.staff(row, claims) };
  }

  @GrpcMethod('PeopleService', 'getStaff')
  async getStaff(req: GetStaffRequest, metadata: Metadata): Promise<GetStaffResponse> {
    const claims = claimsOf(metadata);
    const row = await this.people.getStaff(claims, requiredUuid('staff_id', req.staffId));
    return { staff: this.staff(row, claims) };
  }

  @GrpcMethod('PeopleService', 'registerCourier')
  async registerCourier(req: RegisterCourierRequest, metadata: Metadata): Promise<RegisterCourierResponse> {
    const claims = claimsOf(metadata);
    const row = await this.people.registerCourier(claims, toRegisterCourierCommand(req));
    return { courier: this.courier(row, claims) };
  }

  @GrpcMethod('PeopleService', 'getCourier')
  async getCourier(req: GetCourierRequest, metadata: Metadata): Promise<GetCourierResponse> {
    const claims = claimsOf(metadata);
    const row = await this.people.getCourier(claims, requiredUuid('courier_id', req.courierId));
    return { courier: this.courier(row, claims) };
  }

  /** The clear value for callers with identity:pii.read, the stored masked value for everyone else. */
  private reveal(claims: CitybaseClaims): (enc: Buffer, masked: string, context: string) => string {
    return hasScope(claims, PII_READ_SCOPE)
      ? (enc, _masked, context) => this.pii.decrypt(enc, context)
      : (_e, masked) => masked;
  }

  private resident(row: ResidentRow, claims: CitybaseClaims): Resident {
    const reveal = this.reveal(claims);
    return {
      residentId: row.resident_id,
      operatorId: row.operator_id,
      projectId: row.project_id,
      name: row.name,
      phone: reveal(row.phone_enc, row.phone_masked, PiiContext.residentPhone),
      idNumber: reveal(row.id_number_enc, row.id_number_masked, PiiContext.residentIdNumber),
      verificationStatus: row.verification_status,
      verifiedByStaffId: row.verified_by_staff_id ?? '',
      verifiedAt: row.verified_at ? toTimestamp(row.verified_at) : undefined,
      householdId: row.household_id ?? '',
      createdAt: toTimestamp(row.created_at),
    };
  }

  private staff(row: StaffRow, claims: CitybaseClaims): Staff {
    return {
      staffId: row.staff_id,
      operatorId: row.operator_id,
      projectId: row.project_id ?? '',
      merchantId: row.merchant_id ?? '',
      role: row.role,
      name: row.name,
      phone: this.reveal(claims)(row.phone_enc, row.phone_masked, PiiContext.staffPhone),
      createdAt: toTimestamp(row.created_at),
    };
  }

  private courier(row: CourierRow, claims: CitybaseClaims): Courier {
    const reveal = this.reveal(claims);
    return {
      courierId: row.courier_id,
      operatorId: row.operator_id,
      projectId: row.project_id,
      name: row.name,
      phone: reveal(row.phone_enc, row.phone_masked, PiiContext.courierPhone),
      idNumber: reveal(row.id_number_enc, row.id_number_masked, PiiContext.courierIdNumber),
      photoRef: row.photo_ref,
      employer: row.employer,
      createdAt: toTimestamp(row.created_at),
    };
  }
}

function household({ household: h, members }: HouseholdView): Household {
  return {
    householdId: h.household_id,
    operatorId: h.operator_id,
    projectId: h.project_id,
    unitId: h.unit_id,
    members: members.map((m) => ({
      residentId: m.resident_id,
      role: m.role,
      relation: m.relation,
      boundAt: toTimestamp(m.bound_at),
    })),
    createdAt: toTimestamp(h.created_at),
  };
}
