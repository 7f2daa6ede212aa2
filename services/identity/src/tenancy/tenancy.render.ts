import { toTimestamp } from '@citybase/platform';
import {
  Agency,
  AgencyKind,
  Building,
  Operator,
  Project,
  ProjectKind,
  Unit,
} from '@citybase/contracts/citybase/identity/v1/tenancy';
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
