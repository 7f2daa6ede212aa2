import { Inject, Injectable } from '@nestjs/common';
import {
  CitybaseClaims,
  MutationContext,
  Mutations,
  MutationTarget,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import {
  Page,
  Paged,
  pagedByCreation,
  readable,
  stored,
  tenancyOf,
  visibilityOf,
  writeTarget,
} from '../shared/rows.domain';
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
    return this.create(claims, cmd, {
      method: 'TenancyService.CreateOperator',
      done: 'operator created',
      insert: (client, id) => insertOperator(client, id, cmd),
      find: findOperator,
      publish: async (op, { emit, note }) => {
        await emit(
          IdentityEvents.OperatorCreated,
          { operatorId: op.operator_id, name: op.name, occurredAt: toTimestamp(op.created_at) },
          { key: op.operator_id, subject: op.operator_id, tenancy: { operatorId: op.operator_id } },
        );
        note({ operator_id: op.operator_id });
      },
    });
  }

  async getOperator(claims: CitybaseClaims, operatorId: string): Promise<OperatorRow> {
    return readable(claims, await findOperator(this.pool, operatorId), () =>
      notFound('operator', 'operator_id'),
    );
  }

  async listOperators(claims: CitybaseClaims, page: Page): Promise<Paged<OperatorRow>> {
    const rows = await listOperators(this.pool, visibilityOf(claims), page);
    return pagedByCreation(rows, page, TENANCY_PAGES.operators, (r) => r.operator_id);
  }

  // ---- projects ----------------------------------------------------------------------------------

  async createProject(claims: CitybaseClaims, cmd: CreateProjectCommand): Promise<ProjectRow> {
    return this.create(claims, cmd, {
      method: 'TenancyService.CreateProject',
      done: 'project created',
      target: writeTarget(
        (client) => findOperator(client, cmd.operatorId),
        (operator) => ({ operatorId: operator.operator_id }),
        () => notFound('operator', 'operator_id'),
      ),
      insert: (client, id) => insertProject(client, id, cmd),
      find: findProject,
      publish: async (project, { emit, note }) => {
        await emit(
          IdentityEvents.ProjectCreated,
          {
            projectId: project.project_id,
            operatorId: project.operator_id,
            name: project.name,
            kind: project.kind,
            occurredAt: toTimestamp(project.created_at),
          },
          underProject(project, project.project_id),
        );
        note({ project_id: project.project_id, operator_id: project.operator_id });
      },
    });
  }

  async getProject(claims: CitybaseClaims, projectId: string): Promise<ProjectRow> {
    return readable(claims, await findProject(this.pool, projectId), () => notFound('project', 'project_id'));
  }

  /** The projects of one operator that the caller may see (none if the operator is foreign or unknown). */
  async listProjects(claims: CitybaseClaims, operatorId: string, page: Page): Promise<Paged<ProjectRow>> {
    const rows = await listProjects(this.pool, operatorId, visibilityOf(claims), page);
    return pagedByCreation(rows, page, TENANCY_PAGES.projects, (r) => r.project_id);
  }

  // ---- buildings and units -----------------------------------------------------------------------

  async createBuilding(claims: CitybaseClaims, cmd: CreateBuildingCommand): Promise<BuildingRow> {
    return this.create(claims, cmd, {
      method: 'TenancyService.CreateBuilding',
      done: 'building created',
      target: writeTarget(
        (client) => findProject(client, cmd.projectId),
        tenancyOf,
        () => notFound('project', 'project_id'),
      ),
      insert: async (client, id, project) => {
        const building = await insertBuilding(client, id, project, cmd);
        if (!building) throw nameTaken('building', 'project');
        return building;
      },
      find: findBuilding,
      publish: async (building, { emit, note }) => {
        await emit(
          IdentityEvents.BuildingCreated,
          {
            buildingId: building.building_id,
            projectId: building.project_id,
            operatorId: building.operator_id,
            name: building.name,
            occurredAt: toTimestamp(building.created_at),
          },
          underProject(building, building.building_id),
        );
        note({ building_id: building.building_id, project_id: building.project_id });
      },
    });
  }

  async createUnit(claims: CitybaseClaims, cmd: CreateUnitCommand): Promise<UnitRow> {
    return this.create(claims, cmd, {
      method: 'TenancyService.CreateUnit',
      done: 'unit created',
      target: writeTarget(
        (client) => findBuilding(client, cmd.buildingId),
        tenancyOf,
        () => notFound('building', 'building_id'),
      ),
      insert: async (client, id, building) => {
        const unit = await insertUnit(client, id, building, cmd);
        if (!unit) throw nameTaken('unit', 'building');
        return unit;
      },
      find: findUnit,
      publish: async (unit, { emit, note }) => {
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
          underProject(unit, unit.unit_id),
        );
        note({ unit_id: unit.unit_id, building_id: unit.building_id });
      },
    });
  }

  /** The buildings of one project that the caller may see, each with all its units. */
  async listBuildings(
    claims: CitybaseClaims,
    projectId: string,
    page: Page,
  ): Promise<Paged<BuildingWithUnits>> {
    const rows = await listBuildings(this.pool, projectId, visibilityOf(claims), page);
    const { items: buildings, nextPageToken } = pagedByCreation(
      rows,
      page,
      TENANCY_PAGES.buildings,
      (r) => r.building_id,
    );
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
    return this.create(claims, cmd, {
      method: 'TenancyService.CreateAgency',
      done: 'agency created',
      insert: (client, id) => insertAgency(client, id, cmd),
      find: findAgency,
      publish: async (agency, { emit, note }) => {
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
      },
    });
  }

  async listAgencies(claims: CitybaseClaims, page: Page): Promise<Paged<AgencyRow>> {
    assertCityAdmin(claims, 'list agencies');
    const rows = await listAgencies(this.pool, page);
    return pagedByCreation(rows, page, TENANCY_PAGES.agencies, (r) => r.agency_id);
  }

  /**
   * One creation through the use-case pipeline: the parent (`target`, when there is one) checked
   * against the caller's tenancy, then the row inserted under the request key's id, its one event
   * emitted and noted; a retry answers the stored row again.
   */
  private create<C extends { requestId: string }, R, P = undefined>(
    claims: CitybaseClaims,
    cmd: C,
    creation: {
      /** "TenancyService.<RPC>": part of the request key. */
      method: string;
      done: string;
      target?: MutationTarget<P>;
      insert(client: PoolClient, id: string, parent: P): Promise<R>;
      find(db: PoolClient, id: string): Promise<R | undefined>;
      publish(row: R, ctx: MutationContext<P>): Promise<void>;
    },
  ): Promise<R> {
    return this.mutations.run({
      method: creation.method,
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: creation.target,
      done: creation.done,
      execute: async (ctx) => {
        await creation.publish(await creation.insert(ctx.client, ctx.resourceId, ctx.target), ctx);
        return stored(await creation.find(ctx.client, ctx.resourceId));
      },
      replay: async ({ client, resourceId }) => stored(await creation.find(client, resourceId)),
    });
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

/** Events of rows under a project are keyed by their operator and placed in their project. */
function underProject(row: { operator_id: string; project_id: string }, subject: string) {
  return {
    key: row.operator_id,
    subject,
    tenancy: tenancyOf(row),
  };
}
