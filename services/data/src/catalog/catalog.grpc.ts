import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, DomainError, parsePage, requestId, requiredString } from '@citybase/platform';
import {
  ClassifyFieldRequest,
  ClassifyFieldResponse,
  GetDatasetRequest,
  GetDatasetResponse,
  ListDatasetsRequest,
  ListDatasetsResponse,
  RegisterDatasetRequest,
  RegisterDatasetResponse,
  ScanDatasetRequest,
  ScanDatasetResponse,
} from '@citybase/contracts/citybase/data/v1/data';
import {
  CLASSIFICATION_NAME,
  COLUMN_NAME,
  DATASET_ID,
  DATASETS_PAGE,
  toRegisterDatasetCommand,
} from './catalog.domain';
import { datasetToProto } from './catalog.render';
import { CatalogService } from './catalog.service';

/** Transport adapter of the catalog. */
@Controller()
export class CatalogGrpc {
  constructor(private readonly catalog: CatalogService) {}

  @GrpcMethod('DataService', 'registerDataset')
  async registerDataset(req: RegisterDatasetRequest, metadata: Metadata): Promise<RegisterDatasetResponse> {
    const cmd = toRegisterDatasetCommand(req);
    return { dataset: datasetToProto(await this.catalog.register(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('DataService', 'listDatasets')
  async listDatasets(req: ListDatasetsRequest, metadata: Metadata): Promise<ListDatasetsResponse> {
    claimsOf(metadata);
    const { size, after } = parsePage(req.page, DATASETS_PAGE);
    const { rows, nextPageToken } = await this.catalog.list({ size, after: after?.[0] });
    return { datasets: rows.map(datasetToProto), page: { nextPageToken } };
  }

  @GrpcMethod('DataService', 'getDataset')
  async getDataset(req: GetDatasetRequest, metadata: Metadata): Promise<GetDatasetResponse> {
    claimsOf(metadata);
    const id = requiredString('dataset_id', req.datasetId, DATASET_ID);
    return { dataset: datasetToProto(await this.catalog.get(id)) };
  }

  @GrpcMethod('DataService', 'classifyField')
  async classifyField(req: ClassifyFieldRequest, metadata: Metadata): Promise<ClassifyFieldResponse> {
    const classification = CLASSIFICATION_NAME[req.classification] ?? 'UNSPECIFIED';
    if (classification === 'UNSPECIFIED')
      throw DomainError.invalid('classification', 'must be PUBLIC, INTERNAL, PERSONAL or SENSITIVE');
    const cmd = {
      requestId: requestId(req.requestId),
      datasetId: requiredString('dataset_id', req.datasetId, DATASET_ID),
      field: requiredString('field', req.field, COLUMN_NAME),
      classification,
    };
    return { dataset: datasetToProto(await this.catalog.classify(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('DataService', 'scanDataset')
  async scanDataset(req: ScanDatasetRequest, metadata: Metadata): Promise<ScanDatasetResponse> {
    const cmd = {
      requestId: requestId(req.requestId),
      datasetId: requiredString('dataset_id', req.datasetId, DATASET_ID),
    };
    const { dataset, rowsScanned } = await this.catalog.scan(claimsOf(metadata), cmd);
    return { dataset: datasetToProto(dataset), rowsScanned: BigInt(rowsScanned) };
  }
}
