import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  GetBudgetRequest,
  GetBudgetResponse,
  ListBudgetsRequest,
  ListBudgetsResponse,
  SetBudgetRequest,
  SetBudgetResponse,
} from '@citybase/contracts/citybase/points/v1/points';
import { toGetBudgetQuery, toListBudgetsQuery, toSetBudgetCommand } from './budgets.domain';
import { budgetToProto } from './budgets.render';
import { BudgetsService } from './budgets.service';

/** Transport adapter of budgets: proto in (validated), use case, proto out. */
@Controller()
export class BudgetsGrpc {
  constructor(private readonly budgets: BudgetsService) {}

  @GrpcMethod('PointsService', 'setBudget')
  async setBudget(req: SetBudgetRequest, metadata: Metadata): Promise<SetBudgetResponse> {
    const cmd = toSetBudgetCommand(req);
    return { budget: budgetToProto(await this.budgets.setBudget(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('PointsService', 'getBudget')
  async getBudget(req: GetBudgetRequest, metadata: Metadata): Promise<GetBudgetResponse> {
    const q = toGetBudgetQuery(req);
    return { budget: budgetToProto(await this.budgets.getBudget(claimsOf(metadata), q)) };
  }

  @GrpcMethod('PointsService', 'listBudgets')
  async listBudgets(req: ListBudgetsRequest, metadata: Metadata): Promise<ListBudgetsResponse> {
    const q = toListBudgetsQuery(req);
    const { items, nextPageToken } = await this.budgets.listBudgets(claimsOf(metadata), q);
    return { budgets: items.map(budgetToProto), page: { nextPageToken } };
  }
}
