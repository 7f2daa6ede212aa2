import {
  CitybaseClaims,
  DomainError,
  requestId,
  requiredEnum,
  requiredString,
  requiredUuid,
  tenancyFilter,
} from '@citybase/platform';
import {
  AgencyKind,
  CreateAgencyRequest,
  CreateBuildingRequest,
  CreateOperatorRequest,
  CreateProjectRequest,
  CreateUnitRequest,
  ProjectKind,
} from '@citybase/contracts/citybase/identity/v1/tenancy';
import { createdAtPages } from '../shared/rows.domain';

// Pure rules of the tenancy feature: request validation into commands, paging and who may act. No I/O; every check here runs before anything is written.

export interface CreateOperatorCommand {
  requestId: string;
  name: string;
}

export interface CreateProjectCommand {
  requestId: string;
  operatorId: string;
  name: string;
  kind: ProjectKind;
}

export interface CreateBuildingCommand {
  requestId: string;
  projectId: string;
  name: string;
}

export interface CreateUnitCommand {
  requestId: string;
  buildingId: string;
  name: string;
  floor: number;
}

export interface CreateAgencyCommand {
  requestId: string;
  name: string;
  kind: AgencyKind;
}

export const FLOOR_MIN = -10;
export const FLOOR_MAX = 300;

export function toCreateOperatorCommand(req: CreateOperatorRequest): CreateOperatorCommand {
  return {
    requestId: requestId(req.requestId),
    name: requiredString('name', req.name, { max: 200 }),
  };
}

export function toCreateProjectCommand(req: CreateProjectRequest): CreateProjectCommand {
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredUuid('operator_id', req.operatorId),
    name: requiredString('name', req.name, { max: 200 }),
    kind: requiredEnum('kind', req.kind, ProjectKind) as ProjectKind,
  };
}

export function toCreateBuildingCommand(req: CreateBuildingRequest): CreateBuildingCommand {
  return {
    requestId: requestId(req.requestId),
    projectId: requiredUuid('project_id', req.projectId),
    name: requiredString('name', req.name, { max: 100 }),
  };
}

export function toCreateUnitCommand(req: CreateUnitRequest): CreateUnitCommand {
  return {
    requestId: requestId(req.requestId),
    buildingId: requiredUuid('building_id', req.buildingId),
    name: requiredString('name', req.name, { max: 100 }),
    floor: floor(req.floor),
  };
}

export function toCreateAgencyCommand(req: CreateAgencyRequest): CreateAgencyCommand {
  return {
    requestId: requestId(req.requestId),
    name: requiredString('name', req.name, { max: 200 }),
    kind: requiredEnum('kind', req.kind, AgencyKind) as AgencyKind,
  };
}

function floor(value: number | undefined): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < FLOOR_MIN || v > FLOOR_MAX) {
    throw DomainError.invalid('floor', `must be an integer from ${FLOOR_MIN} to ${FLOOR_MAX}`);
  }
  return v;
}

/** Throws PERMISSION_DENIED unless the caller is an unrestricted city administrator. */
export function assertCityAdmin(claims: Pick<CitybaseClaims, 'scope' | 'tenancy'>, action: string): void {
  if (!tenancyFilter(claims).all) {
    throw new DomainError(
      'permission_denied',
      'CITY_ADMIN_REQUIRED',
      `only an unrestricted city administrator may ${action}`,
      { rule: 'requires scope city:admin and no tenancy restriction' },
    );
  }
}

// ---- paging ----------------------------------------------------------------------------------------

/** Page tokens of the tenancy lists (see createdAtPages). */
export const TENANCY_PAGES = {
  operators: createdAtPages('operators'),
  projects: createdAtPages('projects'),
  buildings: createdAtPages('buildings'),
  agencies: createdAtPages('agencies'),
};
