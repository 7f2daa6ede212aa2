import { toTimestamp } from '@citybase/platform';
import {
  Agency,
  AgencyKind,
  Building,
  Merchant,
  MerchantStatus,
  Operator,
  Project,
  ProjectKind,
  Unit,
} from '@citybase/contracts/citybase/identity/v1/tenancy';
import type { MerchantView } from './merchants.service';
import type { BuildingWithUnits } from './tenancy.service';
import type { AgencyRow, OperatorRow, ProjectRow, UnitRow } from './tenancy.store';

// Stored rows to proto messages. Pure: what a caller may see (masking) is decided before this.

export function toOperator(row: OperatorRow): Operator {
  return { operatorId: row.operator_id, name: row.name, createdAt: toTimestamp(row.created_at) };
}

export function toProject(row: ProjectRow): Project {
  return {
    projectId: row.project_id,
    operatorId: row.operator_id,
    name: row.name,
    kind: row.kind as ProjectKind,
    createdAt: toTimestamp(row.created_at),
  };
}

export function toUnit(row: UnitRow): Unit {
  return { unitId: row.unit_id, buildingId: row.building_id, name: row.name, floor: row.floor };
}

export function toBuilding({ building, units }: BuildingWithUnits): Building {
  return {
    buildingId: building.building_id,
    projectId: building.project_id,
    operatorId: building.operator_id,
    name: building.name,
    units: units.map(toUnit),
  };
}

export function toAgency(row: AgencyRow): Agency {
  return {
    agencyId: row.agency_id,
    name: row.name,
    kind: row.kind as AgencyKind,
    createdAt: toTimestamp(row.created_at),
  };
}

export function toMerchant({ row, ownerIdNumber, contactPhone }: MerchantView): Merchant {
  return {
    merchantId: row.merchant_id,
    operatorId: row.operator_id,
    projectId: row.project_id,
    name: row.name,
    status: row.status as MerchantStatus,
    location: row.location,
    unitId: row.unit_id ?? '',
    ownerName: row.owner_name,
    ownerIdNumber,
    contactPhone,
    leaseRef: row.lease_ref,
    businessScope: row.business_scope,
    photoRefs: row.photo_refs,
    registeredByStaffId: row.registered_by_staff_id,
    createdAt: toTimestamp(row.created_at),
    statusChangedAt: row.status_changed_at ? toTimestamp(row.status_changed_at) : undefined,
    statusReason: row.status_reason,
  };
}
