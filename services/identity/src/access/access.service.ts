import { Inject, Injectable } from '@nestjs/common';
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
import { DoorGrant, GrantStatus } from '@citybase/contracts/citybase/identity/v1/access';
import { PeopleService } from '../people/people.service';
import { PlacedRow, readable, tenancyOf, writable } from '../shared/rows.domain';
import { TenancyService } from '../tenancy/tenancy.service';
import { CheckDoorAccessQuery, IssueDoorGrantCommand, RevokeDoorGrantCommand } from './access.domain';
import {
  findGrant,
  findOpeningGrant,
  GrantRow,
  insertGrant,
  listGrants,
  lockGrant,
  revokeGrant,
} from './access.store';

/**
 * Door-access grants. Issue and revoke run through the use-case pipeline (Mutations: one
 * transaction with their request key and their event); the acting staff member is checked through
 * PeopleService. CheckDoorAccess reads the table on every call (no cache), so a revocation takes
 * effect the moment it commits.
 */
@Injectable()
export class AccessService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
    private readonly people: PeopleService,
    private readonly tenancy: TenancyService,
  ) {}

  async issueDoorGrant(claims: CitybaseClaims, cmd: IssueDoorGrantCommand): Promise<GrantRow> {
    return this.mutations.run({
      method: 'AccessService.IssueDoorGrant',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      done: 'door grant issued',
      execute: async ({ client, resourceId: grantId, emit, note }) => {
        const resident = writable(
          claims,
          await this.people.findResidentPlacement(client, cmd.residentId),
          () => DomainError.notFound('resident', cmd.residentId, 'RESIDENT_NOT_FOUND'),
        );
        await this.checkDoor(client, claims, cmd, resident);
        if (!(await this.people.isActivePropertyStaff(client, cmd.issuedByStaffId, resident.project_id))) {
          throw notPropertyStaff('issued_by_staff_id', "the resident's project");
        }
        await insertGrant(client, {
          grantId,
          operatorId: resident.operator_id,
          projectId: resident.project_id,
          residentId: cmd.residentId,
          door: cmd.door,
          issuedByStaffId: cmd.issuedByStaffId,
          validUntil: cmd.validUntil,
        });
        const grant = (await findGrant(client, grantId)) as GrantRow;
        await emit(
          IdentityEvents.GrantIssued,
          { grant: toDoorGrant(grant), occurredAt: toTimestamp(grant.issued_at) },
          eventOptions(grant),
        );
        note({ grant_id: grantId, resident_id: cmd.residentId, issued_by_staff_id: cmd.issuedByStaffId });
        return this.readableGrant(client, claims, grantId);
      },
      replay: ({ client, resourceId }) => this.readableGrant(client, claims, resourceId),
    });
  }

  /** The door exists, is visible to the caller and lies in the resident's project. */
  private async checkDoor(
    client: PoolClient,
    claims: CitybaseClaims,
    cmd: IssueDoorGrantCommand,
    resident: PlacedRow,
  ) {
    const { field, what, id } =
      cmd.door.buildingId !== undefined
        ? { field: 'building_id', what: 'building', id: cmd.door.buildingId }
        : { field: 'unit_id', what: 'unit', id: cmd.door.unitId };
    const door = readable(
      claims,
      cmd.door.buildingId !== undefined
        ? await this.tenancy.findBuilding(client, cmd.door.buildingId)
        : await this.tenancy.findUnit(client, cmd.door.unitId),
      () => DomainError.notFound(what, id, `${what.toUpperCase()}_NOT_FOUND`),
    );
    if (door.project_id !== resident.project_id) {
      throw DomainError.invalid(field, `must be a ${what} of the resident's project`, 'DOOR_NOT_IN_PROJECT');
    }
  }

  async revokeDoorGrant(claims: CitybaseClaims, cmd: RevokeDoorGrantCommand): Promise<GrantRow> {
    return this.mutations.run({
      method: 'AccessService.RevokeDoorGrant',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      // the key's resource is the grant the request names (same key, same request)
      resourceId: cmd.grantId,
      done: 'door grant revoked',
      execute: async ({ client, emit, note }) => {
        const grant = writable(claims, await lockGrant(client, cmd.grantId), () =>
          DomainError.notFound('grant', cmd.grantId, 'GRANT_NOT_FOUND'),
        );
        if (!(await this.people.isActivePropertyStaff(client, cmd.revokedByStaffId, grant.project_id))) {
          throw notPropertyStaff('revoked_by_staff_id', "the grant's project");
        }
        // Revoking a revoked grant changes nothing and tells nobody.
        const revoking = grant.status !== GrantStatus.GRANT_STATUS_REVOKED;
        note({ grant_id: grant.grant_id, revoked_by_staff_id: cmd.revokedByStaffId, changed: revoking });
        if (revoking) {
          await revokeGrant(client, grant.grant_id, cmd.revokedByStaffId);
          const after = (await findGrant(client, grant.grant_id)) as GrantRow;
          await emit(
            IdentityEvents.GrantRevoked,
            {
              grant: toDoorGrant(after),
              occurredAt: after.revoked_at ? toTimestamp(after.revoked_at) : undefined,
            },
            eventOptions(after),
          );
        }
        return this.readableGrant(client, claims, cmd.grantId);
      },
      replay: ({ client }) => this.readableGrant(client, claims, cmd.grantId),
    });
  }

  async checkDoorAccess(
    claims: CitybaseClaims,
    query: CheckDoorAccessQuery,
  ): Promise<{ allowed: boolean; grantId: string }> {
    // two queries per call: the resident with its household (people), then the grants
    const resident = await this.readableResident(claims, query.residentId);
    const grantId = await findOpeningGrant(this.pool, resident.household_resident_ids, query.door);
    return { allowed: grantId !== undefined, grantId: grantId ?? '' };
  }

  async listDoorGrants(claims: CitybaseClaims, residentId: string): Promise<GrantRow[]> {
    const resident = await this.readableResident(claims, residentId);
    return listGrants(this.pool, resident.household_resident_ids);
  }

  private async readableResident(claims: CitybaseClaims, residentId: string) {
    return readable(claims, await this.people.findResidentPlacement(this.pool, residentId), () =>
      DomainError.notFound('resident', residentId, 'RESIDENT_NOT_FOUND'),
    );
  }

  private async readableGrant(
    db: Pool | PoolClient,
    claims: CitybaseClaims,
    grantId: string,
  ): Promise<GrantRow> {
    return readable(claims, await findGrant(db, grantId), () =>
      DomainError.notFound('grant', grantId, 'GRANT_NOT_FOUND'),
    );
  }
}

export function toDoorGrant(row: GrantRow): DoorGrant {
  return {
    grantId: row.grant_id,
    operatorId: row.operator_id,
    projectId: row.project_id,
    residentId: row.resident_id,
    buildingId: row.building_id ?? '',
    unitId: row.unit_id ?? '',
    status: row.status,
    issuedByStaffId: row.issued_by_staff_id,
    issuedAt: toTimestamp(row.issued_at),
    validUntil: row.valid_until ? toTimestamp(row.valid_until) : undefined,
    revokedByStaffId: row.revoked_by_staff_id ?? '',
    revokedAt: row.revoked_at ? toTimestamp(row.revoked_at) : undefined,
  };
}

function notPropertyStaff(field: string, where: string): DomainError {
  const rule = `must be active property staff of ${where}`;
  return new DomainError('failed_precondition', 'STAFF_NOT_PROPERTY_STAFF', `${field}: ${rule}`, {
    field,
    rule,
  });
}

/** Identity facts are keyed by operator, so a consumer sees one operator's facts in order. */
function eventOptions(grant: GrantRow) {
  return { key: grant.operator_id, subject: grant.grant_id, tenancy: tenancyOf(grant) };
}
