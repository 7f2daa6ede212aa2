import { Inject, Injectable } from '@nestjs/common';
import {
  CitybaseClaims,
  inTenancy,
  Mutations,
  PG_POOL,
  pageOf,
  Pool,
  PoolClient,
  toTimestamp,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import { Page, Paged, stored, visibilityOf, writeTarget } from '../shared/rows.domain';
import { notFound } from '../shared/shared.errors';
import {
  assertCityAdmin,
  CreateAgencyCommand,
  CreateBuildingCommand,
  CreateOperatorCommand,
  CreateProjectCommand,
  CreateUnitCommand,
  TENANCY_PAGES,
} from './tenancy.domain';
import { nameTaken } from './tenancy.errors';
import {
  AgencyRow,
  BuildingRow,
  existingOperators,
  findAgency,
  findBuilding,
  findOperator,
  findProject,
  findUnit,
  insertAgency,
  insertBuilding,
  insertOperator,
  insertProject,
  insertUnit,
  listAgencies,
  listBuildings,
  listOperators,
  listProjects,
  OperatorRow,
  projectOperators,
  projectsOfOperators,
  ProjectRow,
  UnitRow,
  unitsOf,
} from './tenancy.store';

export interface BuildingWithUnits {
  building: BuildingRow;
  units: UnitRow[];
}

/**
 * Use cases of the tenancy tree (operators > projects > buildings > units) and of agencies. Every
 * creation validates, then runs through the use-case pipeline (Mutations): the stored parent checked
 * against the caller's tenancy (the pipeline's target), the request key, the row and its event in
 * one transaction. Also the stored rows other features check their writes against.
 */
@Injectable()
export class TenancyService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
  ) {}

  // ---- operators ---------------------------------------------------------------------------------

  async createOperator(claims: CitybaseClaims, cmd: CreateOperatorCommand): Promise<OperatorRow> {
    assertCityAdmin(claims, 'create operators');
    return this.mutations.run({
      method: 'TenancyService.CreateOperator',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      done: 'operator created',
      execute: async ({ client, resourceId, emit, note }) => {
        const op = await insertOperator(client, resourceId, cmd);
        await emit(
          IdentityEvents.OperatorCreated,
          { operatorId: op.operator_id, name: op.name, occurredAt: toTimestamp(op.created_at) },
          { key: op.operator_id, subject: op.operator_id, tenancy: { operatorId: op.operator_id } },
        );
        note({ operator_id: op.operator_id });
        return stored(await findOperator(client, resourceId));
      },
      replay: async ({ client, resourceId }) => stored(await findOperator(client, resourceId)),
    });
  }

  async getOperator(claims: CitybaseClaims, operatorId: string): Promise<OperatorRow> {
    const row = await findOperator(this.pool, operatorId);
    if (!row || !inTenancy(claims, { operatorId: row.operator_id }))
      throw notFound('operator', 'operator_id');
    return row;
  }

  async listOperators(claims: CitybaseClaims, page: Page): Promise<Paged<OperatorRow>> {
    const rows = await listOperators(this.pool, visibilityOf(claims), page);
    const { rows: items, nextPageToken } = pageOf(rows, page.size, TENANCY_PAGES.operators, (r) => [
      r.cursor_at,
      r.operator_id,
    ]);
    return { items, nextPageToken };
  }

  // ---- projects ----------------------------------------------------------------------------------

  async createProject(claims: CitybaseClaims, cmd: CreateProjectCommand): Promise<ProjectRow> {
    return this.mutations.run({
      method: 'TenancyService.CreateProject',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: writeTarget(
        (client) => findOperator(client, cmd.operatorId),
        (operator) => ({ operatorId: operator.operator_id }),
        () => notFound('operator', 'operator_id'),
      ),
      done: 'project created',
      execute: async ({ client, resourceId, emit, note }) => {
        const project = await insertProject(client, resourceId, cmd);
        await emit(
          IdentityEvents.ProjectCreated,
          {
            projectId: project.project_id,
            operatorId: project.operator_id,
            name: project.name,
            kind: project.kind,
            occurredAt: toTimestamp(project.created_at),
          },
          {
            key: project.operator_id,
            subject: project.project_id,
            tenancy: { operatorId: project.operator_id, projectId: project.project_id },
          },
        );
        note({ project_id: project.project_id, operator_id: project.operator_id });
        return stored(await findProject(client, resourceId));
      },
      replay: async ({ client, resourceId }) => stored(await findProject(client, resourceId)),
    });
  }

  async getProject(claims: CitybaseClaims, projectId: string): Promise<ProjectRow> {
    const row = await findProject(this.pool, projectId);
    if (!row || !inTenancy(claims, { operatorId: row.operator_id, projectId: row.project_id })) {
      throw notFound('project', 'project_id');
    }
    return row;
  }

  /** The projects of one operator that the caller may see (none if the operator is foreign or unknown). */
  async listProjects(claims: CitybaseClaims, operatorId: string, page: Page): Promise<Paged<ProjectRow>> {
    const rows = await listProjects(this.pool, operatorId, visibilityOf(claims), page);
    const { rows: items, nextPageToken } = pageOf(rows, page.size, TENANCY_PAGES.projects, (r) => [
      r.cursor_at,
      r.project_id,
    ]);
    return { items, nextPageToken };
  }

  // ---- buildings and units -----------------------------------------------------------------------

  async createBuilding(claims: CitybaseClaims, cmd: CreateBuildingCommand): Promise<BuildingRow> {
    return this.mutations.run({
      method: 'TenancyService.CreateBuilding',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: writeTarget(
        (client) => findProject(client, cmd.projectId),
        (project) => ({ operatorId: project.operator_id, projectId: project.project_id }),
        () => notFound('project', 'project_id'),
      ),
      done: 'building created',
      execute: async ({ client, resourceId, target: project, emit, note }) => {
        const building = await insertBuilding(client, resourceId, project, cmd);
        if (!building) throw nameTaken('building', 'project');
        await emit(
          IdentityEvents.BuildingCreated,
          {
            buildingId: building.building_id,
            projectId: building.project_id,
            operatorId: building.operator_id,
            name: building.name,
            occurredAt: toTimestamp(building.created_at),
          },
          {
            key: building.operator_id,
            subject: building.building_id,
            tenancy: { operatorId: building.operator_id, projectId: building.project_id },
          },
        );
        note({ building_id: building.building_id, project_id: building.project_id });
        return stored(await findBuilding(client, resourceId));
      },
      replay: async ({ client, resourceId }) => stored(await findBuilding(client, resourceId)),
    });
  }

  async createUnit(claims: CitybaseClaims, cmd: CreateUnitCommand): Promise<UnitRow> {
    return this.mutations.run({
      method: 'TenancyService.CreateUnit',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: writeTarget(
        (client) => findBuilding(client, cmd.buildingId),
        (building) => ({ operatorId: building.operator_id, projectId: building.project_id }),
        () => notFound('building', 'building_id'),
      ),
      done: 'unit created',
      execute: async ({ client, resourceId, target: building, emit, note }) => {
        const unit = await insertUnit(client, resourceId, building, cmd);
        if (!unit) throw nameTaken('unit', 'building');
        await emit(
          IdentityEvents.UnitCreated,
          {
            unitId: unit.unit_id,
            buildingId: unit.building_id,
            projectId: unit.project_id,
            operatorId: unit.operator_id,
            name: unit.name,
            occurredAt: toTimestamp(unit.created_at),
          },
          {
            key: unit.operator_id,
            subject: unit.unit_id,
            tenancy: { operatorId: unit.operator_id, projectId: unit.project_id },
          },
        );
        note({ unit_id: unit.unit_id, building_id: unit.building_id });
        return stored(await findUnit(client, resourceId));
      },
      replay: async ({ client, resourceId }) => stored(await findUnit(client, resourceId)),
    });
  }

  /** The buildings of one project that the caller may see, each with all its units. */
  async listBuildings(
    claims: CitybaseClaims,
    projectId: string,
    page: Page,
  ): Promise<Paged<BuildingWithUnits>> {
    const rows = await listBuildings(this.pool, projectId, visibilityOf(claims), page);
    const { rows: buildings, nextPageToken } = pageOf(rows, page.size, TENANCY_PAGES.buildings, (r) => [
      r.cursor_at,
      r.building_id,
    ]);
    const units = await unitsOf(
      this.pool,
      buildings.map((b) => b.building_id),
    );
    return {
      items: buildings.map((building) => ({
        building,
        units: units.filter((u) => u.building_id === building.building_id),
      })),
      nextPageToken,
    };
  }

  // ---- agencies ----------------------------------------------------------------------------------

  async createAgency(claims: CitybaseClaims, cmd: CreateAgencyCommand): Promise<AgencyRow> {
    assertCityAdmin(claims, 'create agencies');
    return this.mutations.run({
      method: 'TenancyService.CreateAgency',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      done: 'agency created',
      execute: async ({ client, resourceId, emit, note }) => {
        const agency = await insertAgency(client, resourceId, cmd);
        await emit(
          IdentityEvents.AgencyCreated,
          {
            agencyId: agency.agency_id,
            name: agency.name,
            kind: agency.kind,
            occurredAt: toTimestamp(agency.created_at),
          },
          { key: agency.agency_id, subject: agency.agency_id },
        );
        note({ agency_id: agency.agency_id });
        return stored(await findAgency(client, resourceId));
      },
      replay: async ({ client, resourceId }) => stored(await findAgency(client, resourceId)),
    });
  }

  async listAgencies(claims: CitybaseClaims, page: Page): Promise<Paged<AgencyRow>> {
    assertCityAdmin(claims, 'list agencies');
    const rows = await listAgencies(this.pool, page);
    const { rows: items, nextPageToken } = pageOf(rows, page.size, TENANCY_PAGES.agencies, (r) => [
      r.cursor_at,
      r.agency_id,
    ]);
    return { items, nextPageToken };
  }

  // ---- stored rows for the other features of this service (in their transaction) --------------------

  /** The operator, whatever the caller's tenancy (the calling feature checks it). */
  findOperator(db: Pool | PoolClient, operatorId: string): Promise<OperatorRow | undefined> {
    return findOperator(db, operatorId);
  }

  /** The project, whatever the caller's tenancy (the calling feature checks it). */
  findProject(db: Pool | PoolClient, projectId: string): Promise<ProjectRow | undefined> {
    return findProject(db, projectId);
  }

  /** The unit, whatever the caller's tenancy (the calling feature checks it). */
  findUnit(db: Pool | PoolClient, unitId: string): Promise<UnitRow | undefined> {
    return findUnit(db, unitId);
  }

  /** The building, whatever the caller's tenancy (the calling feature checks it). */
  findBuilding(db: Pool | PoolClient, buildingId: string): Promise<BuildingRow | undefined> {
    return findBuilding(db, buildingId);
  }

  /** The operators among `ids` that exist. */
  existingOperators(db: Pool | PoolClient, ids: string[]): Promise<Set<string>> {
    return existingOperators(db, ids);
  }

  /** Each of the projects among `ids` that exist, mapped to its operator. */
  projectOperators(db: Pool | PoolClient, ids: string[]): Promise<Map<string, string>> {
    return projectOperators(db, ids);
  }

  /** The ids of every project of the given operators. */
  projectsOfOperators(db: Pool | PoolClient, operatorIds: string[]): Promise<string[]> {
    return projectsOfOperators(db, operatorIds);
  }
}
