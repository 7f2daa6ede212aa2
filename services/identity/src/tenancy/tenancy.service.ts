import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  inTenancy,
  Logger,
  LOGGER,
  Outbox,
  OUTBOX,
  PG_POOL,
  pageOf,
  Pool,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import { onceByRequestId } from '@citybase/platform';
import {
  assertCityAdmin,
  CreateAgencyCommand,
  CreateBuildingCommand,
  CreateOperatorCommand,
  CreateProjectCommand,
  CreateUnitCommand,
  Page,
  Paged,
  stored,
  TENANCY_PAGES,
  visibilityOf,
} from './tenancy.domain';
import { nameTaken, notFound } from './tenancy.errors';
import {
  AgencyRow,
  BuildingRow,
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
 * creation validates, checks the tenancy of the stored parent, writes the row and its event in one
 * transaction, and is idempotent by (client, method, request id).
 */
@Injectable()
export class TenancyService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  // ---- operators ---------------------------------------------------------------------------------

  async createOperator(claims: CitybaseClaims, cmd: CreateOperatorCommand): Promise<OperatorRow> {
    assertCityAdmin(claims, 'create operators');
    const { row, replayed } = await withTransaction(this.pool, async (client) => {
      const once = await onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'TenancyService.CreateOperator',
          requestId: cmd.requestId,
          command: cmd,
        },
        async (id) => {
          const op = await insertOperator(client, id, cmd);
          await this.outbox.enqueue(
            client,
            IdentityEvents.OperatorCreated,
            { operatorId: op.operator_id, name: op.name, occurredAt: toTimestamp(op.created_at) },
            { key: op.operator_id, subject: op.operator_id, tenancy: { operatorId: op.operator_id } },
          );
        },
      );
      return { row: stored(await findOperator(client, once.resourceId)), replayed: once.replayed };
    });
    if (!replayed)
      this.logger.info({ operator_id: row.operator_id, client_id: claims.sub }, 'operator created');
    return row;
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
    const { row, replayed } = await withTransaction(this.pool, async (client) => {
      const operator = await findOperator(client, cmd.operatorId);
      if (!operator) throw notFound('operator', 'operator_id');
      assertTenancy(claims, { operatorId: operator.operator_id });
      const once = await onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'TenancyService.CreateProject',
          requestId: cmd.requestId,
          command: cmd,
        },
        async (id) => {
          const project = await insertProject(client, id, cmd);
          await this.outbox.enqueue(
            client,
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
        },
      );
      return { row: stored(await findProject(client, once.resourceId)), replayed: once.replayed };
    });
    if (!replayed) {
      this.logger.info({ project_id: row.project_id, operator_id: row.operator_id }, 'project created');
    }
    return row;
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
    const { row, replayed } = await withTransaction(this.pool, async (client) => {
      const project = await findProject(client, cmd.projectId);
      if (!project) throw notFound('project', 'project_id');
      assertTenancy(claims, { operatorId: project.operator_id, projectId: project.project_id });
      const once = await onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'TenancyService.CreateBuilding',
          requestId: cmd.requestId,
          command: cmd,
        },
        async (id) => {
          const building = await insertBuilding(client, id, project, cmd);
          if (!building) throw nameTaken('building', 'project');
          await this.outbox.enqueue(
            client,
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
        },
      );
      return { row: stored(await findBuilding(client, once.resourceId)), replayed: once.replayed };
    });
    if (!replayed) {
      this.logger.info({ building_id: row.building_id, project_id: row.project_id }, 'building created');
    }
    return row;
  }

  async createUnit(claims: CitybaseClaims, cmd: CreateUnitCommand): Promise<UnitRow> {
    const { row, replayed } = await withTransaction(this.pool, async (client) => {
      const building = await findBuilding(client, cmd.buildingId);
      if (!building) throw notFound('building', 'building_id');
      assertTenancy(claims, { operatorId: building.operator_id, projectId: building.project_id });
      const once = await onceByRequestId(
        client,
        { clientId: claims.sub, method: 'TenancyService.CreateUnit', requestId: cmd.requestId, command: cmd },
        async (id) => {
          const unit = await insertUnit(client, id, building, cmd);
          if (!unit) throw nameTaken('unit', 'building');
          await this.outbox.enqueue(
            client,
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
        },
      );
      return { row: stored(await findUnit(client, once.resourceId)), replayed: once.replayed };
    });
    if (!replayed) this.logger.info({ unit_id: row.unit_id, building_id: row.building_id }, 'unit created');
    return row;
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
    const { row, replayed } = await withTransaction(this.pool, async (client) => {
      const once = await onceByRequestId(
        client,
        {
          clientId: claims.sub,
          method: 'TenancyService.CreateAgency',
          requestId: cmd.requestId,
          command: cmd,
        },
        async (id) => {
          const agency = await insertAgency(client, id, cmd);
          await this.outbox.enqueue(
            client,
            IdentityEvents.AgencyCreated,
            {
              agencyId: agency.agency_id,
              name: agency.name,
              kind: agency.kind,
              occurredAt: toTimestamp(agency.created_at),
            },
            { key: agency.agency_id, subject: agency.agency_id },
          );
        },
      );
      return { row: stored(await findAgency(client, once.resourceId)), replayed: once.replayed };
    });
    if (!replayed) this.logger.info({ agency_id: row.agency_id, client_id: claims.sub }, 'agency created');
    return row;
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
}
