import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import {
  claimsOf,
  DomainError,
  optionalString,
  parsePage,
  requestId,
  requiredString,
  requiredUuid,
} from '@citybase/platform';
import {
  AccountKind,
  GetAccountBalanceRequest,
  GetAccountBalanceResponse,
  GetTransactionRequest,
  GetTransactionResponse,
  ListAccountEntriesRequest,
  ListAccountEntriesResponse,
  ListAccountsRequest,
  ListAccountsResponse,
  ReverseTransactionRequest,
  ReverseTransactionResponse,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { accountBalanceProto, statementEntryProto, transactionProto } from './ledger.render';
import { ACCOUNT_ENTRIES_PAGE, ACCOUNTS_PAGE, LedgerService } from './ledger.service';

/** Transport adapter of the ledger: proto in (validated), use case, proto out. */
@Controller()
export class LedgerGrpc {
  constructor(private readonly ledger: LedgerService) {}

  @GrpcMethod('SettlementService', 'getAccountBalance')
  async getAccountBalance(
    req: GetAccountBalanceRequest,
    metadata: Metadata,
  ): Promise<GetAccountBalanceResponse> {
    const accountId = requiredUuid('account_id', req.accountId);
    return {
      balance: accountBalanceProto(await this.ledger.getAccountBalance(claimsOf(metadata), accountId)),
    };
  }

  @GrpcMethod('SettlementService', 'listAccounts')
  async listAccounts(req: ListAccountsRequest, metadata: Metadata): Promise<ListAccountsResponse> {
    const claims = claimsOf(metadata);
    const operatorId = optionalString('operator_id', req.operatorId, { max: 64 });
    const projectId = optionalString('project_id', req.projectId, { max: 64 });
    const ownerRef = optionalString('owner_ref', req.ownerRef, { max: 128 });
    const kind = req.kind ?? 0;
    if (kind !== 0 && !(kind in AccountKind && kind > 0))
      throw DomainError.invalid('kind', `unknown value ${kind}`);
    const page = parsePage(req.page, ACCOUNTS_PAGE);
    const { accounts, nextPageToken } = await this.ledger.listAccounts(claims, {
      operatorId,
      projectId,
      kind,
      ownerRef,
      page,
    });
    return { accounts: accounts.map(accountBalanceProto), page: { nextPageToken } };
  }

  @GrpcMethod('SettlementService', 'listAccountEntries')
  async listAccountEntries(
    req: ListAccountEntriesRequest,
    metadata: Metadata,
  ): Promise<ListAccountEntriesResponse> {
    const accountId = requiredUuid('account_id', req.accountId);
    const page = parsePage(req.page, ACCOUNT_ENTRIES_PAGE);
    const { account, entries, nextPageToken } = await this.ledger.listAccountEntries(claimsOf(metadata), {
      accountId,
      page,
    });
    return { entries: entries.map(statementEntryProto(account.currency.trim())), page: { nextPageToken } };
  }

  @GrpcMethod('SettlementService', 'getTransaction')
  async getTransaction(req: GetTransactionRequest, metadata: Metadata): Promise<GetTransactionResponse> {
    const txId = requiredUuid('transaction_id', req.transactionId);
    return { transaction: transactionProto(await this.ledger.getTransaction(claimsOf(metadata), txId)) };
  }

  @GrpcMethod('SettlementService', 'reverseTransaction')
  async reverseTransaction(
    req: ReverseTransactionRequest,
    metadata: Metadata,
  ): Promise<ReverseTransactionResponse> {
    const claims = claimsOf(metadata);
    const command = {
      requestId: requestId(req.requestId),
      transactionId: requiredUuid('transaction_id', req.transactionId),
      reason: requiredString('reason', req.reason, { max: 200 }),
    };
    return { reversal: transactionProto(await this.ledger.reverseTransaction(claims, command)) };
  }
}
