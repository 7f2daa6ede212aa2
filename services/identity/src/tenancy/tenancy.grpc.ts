import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, parsePage, requiredUuid } from '@citybase/platform';
import {
  CreateAgencyRequest,
  CreateAgencyResponse,
  CreateBuildingRequest,
  CreateBuildingResponse,
  CreateOperatorRequest,
  CreateOperatorResponse,
  CreateProjectRequest,
  CreateProjectResponse,
  CreateUnitRequest,
  CreateUnitResponse,
  GetOperatorRequest,
  GetOperatorResponse,
  GetProjectRequest,
  GetProjectResponse,
  ListAgenciesRequest,
  ListAgenciesResponse,
  ListBuildingsRequest,
  ListBuildingsResponse,
  ListOperatorsRequest,
  ListOperatorsResponse,
  ListProjectsRequest,
  ListProjectsResponse,
} from '@citybase/contracts/citybase/identity/v1/tenancy';
import {
  TENANCY_PAGES,
  toCreateAgencyCommand,
  toCreateBuildingCommand,
  toCreateOperatorCommand,
  toCreateProjectCommand,
  toCreateUnitCommand,
} from './tenancy.domain';
import { toAgency, toBuilding, toOperator, toProject, toUnit } from './tenancy.render';
import { TenancyService } from './tenancy.service';

/**
 * Transport adapter of citybase.identity.v1.TenancyService (but its merchant RPCs: MerchantsGrpc in
 * ../merchants): proto in, validated command and the
 * caller's verified claims to the use case, proto out. The transport has already checked the scope
 * each RPC declares in the proto; tenancy is checked by the use cases against stored rows.
 */
@Controller()
export class TenancyGrpc {
  constructor(private readonly tenancy: TenancyService) {}

  @GrpcMethod('TenancyService', 'createOperator')
  async createOperator(req: CreateOperatorRequest, metadata: Metadata): Promise<CreateOperatorResponse> {
    const claims = claimsOf(metadata);
    return { operator: toOperator(await this.tenancy.createOperator(claims, toCreateOperatorCommand(req))) };
  }

  @GrpcMethod('TenancyService', 'getOperator')
  async getOperator(req: GetOperatorRequest, metadata: Metadata): Promise<GetOperatorResponse> {
    const claims = claimsOf(metadata);
    const id = requiredUuid('operator_id', req.operatorId);
    return { operator: toOperator(await this.tenancy.getOperator(claims, id)) };
  }

  @GrpcMethod('TenancyService', 'listOperators')
  async listOperators(req: ListOperatorsRequest, metadata: Metadata): Promise<ListOperatorsResponse> {
    const claims = claimsOf(metadata);
    const { items, nextPageToken } = await this.tenancy.listOperators(
      claims,
      parsePage(req.page, TENANCY_PAGES.operators),
    );
    return { operators: items.map(toOperator), page: { nextPageToken } };
  }

  @GrpcMethod('TenancyService', 'createProject')
  async createProject(req: CreateProjectRequest, metadata: Metadata): Promise<CreateProjectResponse> {
    const claims = claimsOf(metadata);
    return { project: toProject(await this.tenancy.createProject(claims, toCreateProjectCommand(req))) };
  }

  @GrpcMethod('TenancyService', 'getProject')
  async getProject(req: GetProjectRequest, metadata: Metadata): Promise<GetProjectResponse> {
    const claims = claimsOf(metadata);
    const id = requiredUuid('project_id', req.projectId);
    return { project: toProject(await this.tenancy.getProject(claims, id)) };
  }

  @GrpcMethod('TenancyService', 'listProjects')
  async listProjects(req: ListProjectsRequest, metadata: Metadata): Promise<ListProjectsResponse> {
    const claims = claimsOf(metadata);
    const operatorId = requiredUuid('operator_id', req.operatorId);
    const page = parsePage(req.page, TENANCY_PAGES.projects);
    const { items, nextPageToken } = await this.tenancy.listProjects(claims, operatorId, page);
    return { projects: items.map(toProject), page: { nextPageToken } };
  }

  @GrpcMethod('TenancyService', 'createBuilding')
  async createBuilding(req: CreateBuildingRequest, metadata: Metadata): Promise<CreateBuildingResponse> {
    const claims = claimsOf(metadata);
    const building = await this.tenancy.createBuilding(claims, toCreateBuildingCommand(req));
    return { building: toBuilding({ building, units: [] }) };
  }

  @GrpcMethod('TenancyService', 'createUnit')
  async createUnit(req: CreateUnitRequest, metadata: Metadata): Promise<CreateUnitResponse> {
    const claims = claimsOf(metadata);
    return { unit: toUnit(await this.tenancy.createUnit(claims, toCreateUnitCommand(req))) };
  }

  @GrpcMethod('TenancyService', 'listBuildings')
  async listBuildings(req: ListBuildingsRequest, metadata: Metadata): Promise<ListBuildingsResponse> {
    const claims = claimsOf(metadata);
    const projectId = requiredUuid('project_id', req.projectId);
    const page = parsePage(req.page, TENANCY_PAGES.buildings);
    const { items, nextPageToken } = await this.tenancy.listBuildings(claims, projectId, page);
    return { buildings: items.map(toBuilding), page: { nextPageToken } };
  }

  @GrpcMethod('TenancyService', 'createAgency')
  async createAgency(req: CreateAgencyRequest, metadata: Metadata): Promise<CreateAgencyResponse> {
    const claims = claimsOf(metadata);
    return { agency: toAgency(await this.tenancy.createAgency(claims, toCreateAgencyCommand(req))) };
  }

  @GrpcMethod('TenancyService', 'listAgencies')
  async listAgencies(req: ListAgenciesRequest, metadata: Metadata): Promise<ListAgenciesResponse> {
    const claims = claimsOf(metadata);
    const { items, nextPageToken } = await this.tenancy.listAgencies(
      claims,
      parsePage(req.page, TENANCY_PAGES.agencies),
    );
    return { agencies: items.map(toAgency), page: { nextPageToken } };
  }
}
