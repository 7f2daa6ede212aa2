import { Module } from '@nestjs/common';
import { CatalogGrpc } from './catalog.grpc';
import { CatalogService } from './catalog.service';

/** The dataset catalog (docs/data.md "Catalog"): RegisterDataset, ListDatasets, GetDataset, ClassifyField, ScanDataset. */
@Module({ controllers: [CatalogGrpc], providers: [CatalogService], exports: [CatalogService] })
export class CatalogModule {}
