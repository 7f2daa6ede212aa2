import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, fromTimestamp, Subscribe } from '@citybase/platform';
import { GrantStatus } from '@citybase/contracts/citybase/identity/v1/access';
import type { DoorGrant } from '@citybase/contracts/citybase/identity/v1/access';
import { IdentityEvents } from '@citybase/contracts/events';
import { addHouseholdMember, upsertCourier, upsertGrant, upsertHousehold, upsertUnit } from './access.store';

const STATUS: Record<number, 'ACTIVE' | 'REVOKED' | 'EXPIRED'> = {
  [GrantStatus.GRANT_STATUS_ACTIVE]: 'ACTIVE',
  [GrantStatus.GRANT_STATUS_REVOKED]: 'REVOKED',
  [GrantStatus.GRANT_STATUS_EXPIRED]: 'EXPIRED',
};

const grantRow = (g: DoorGrant) => ({
  grantId: g.grantId,
  operatorId: g.operatorId,
  projectId: g.projectId,
  residentId: g.residentId,
  buildingId: g.buildingId || null,
  unitId: g.unitId || null,
  status: STATUS[g.status] ?? 'REVOKED',
  validUntil: g.validUntil ? fromTimestamp(g.validUntil) : null,
});

/**
 * identity's facts doors and couriers need, kept as a local projection by consumer `iot.access`
 * (each event applied once per event id, in the inbox transaction): units and their buildings,
 * households and members, couriers, door-access grants.
 */
@EventConsumer('iot.access')
@Injectable()
export class AccessProjection implements EventSubscriber {
  subscribe(on: Subscribe): void {
    on(IdentityEvents.UnitCreated, (client, e) =>
      upsertUnit(client, {
        unitId: e.unitId,
        buildingId: e.buildingId,
        projectId: e.projectId,
        operatorId: e.operatorId,
      }),
    );
    on(IdentityEvents.HouseholdCreated, async (client, e) => {
      await upsertHousehold(client, { householdId: e.householdId, unitId: e.unitId, projectId: e.projectId });
      if (e.headResidentId) await addHouseholdMember(client, e.householdId, e.headResidentId);
    });
    on(IdentityEvents.HouseholdMemberBound, (client, e) =>
      addHouseholdMember(client, e.householdId, e.residentId),
    );
    on(IdentityEvents.CourierRegistered, (client, e) =>
      upsertCourier(client, {
        courierId: e.courierId,
        projectId: e.projectId,
        operatorId: e.operatorId,
        employer: e.employer,
      }),
    );
    on(IdentityEvents.GrantIssued, async (client, e) => {
      if (e.grant) await upsertGrant(client, grantRow(e.grant));
    });
    on(IdentityEvents.GrantRevoked, async (client, e) => {
      if (e.grant) await upsertGrant(client, { ...grantRow(e.grant), status: 'REVOKED' });
    });
  }
}
