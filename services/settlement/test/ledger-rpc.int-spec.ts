import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { toTimestamp } from '@citybase/platform';
import {
  AccountKind,
  EscrowStatus,
  RefundDestination,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { checkLedgerInvariants } from '../src/ledger/invariants';
import {
  awaitOrder,
  errorCode,
  EscrowHarness,
  grpcError,
  SettlementClient,
  startEscrowHarness,
} from './escrow-harness';

const OP = 'op-ledger-rpc';
const PROJECT = 'proj-ledger-rpc';

/**
 * The ledger's queries over gRPC against the service (in-process): balances with held and available,
 * account lists by kind and tenancy, statements paginated newest first with the balance after each
 * entry, transactions with their postings, and corrections by reversal (idempotent by request id,
 * refused for escrow's own postings, invisible to another tenant).
 */
describe('settlement ledger RPCs (in-process service)', () => {
  let h: EscrowHarness;
  let app: SettlementClient;
  let foreign: SettlementClient;

  beforeAll(async () => {
    h = await startEscrowHarness();
    app = h.clientOf({ operators: [OP] }, [
      'settlement:read',
      'settlement:write',
      'settlement:admin',
      'settlement:wallet',
    ]);
    foreign = h.clientOf({ operators: ['op-other'] }, ['settlement:read', 'settlement:admin']);
  });

  afterEach(async () => {
    expect((await checkLedgerInvariants(h.pool)).violations).toEqual([]);
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('balances, statements, transactions and reversals', async () => {
    // five payments of one payer into the project's escrow; two refunded to the payer's wallet
    const amounts = [1_000n, 2_000n, 3_000n, 4_000n, 5_000n];
    const orders: string[] = [];
    for (const amount of amounts) {
      const { event } = await h.fake.paymentSucceeded({
        tenancy: { operatorId: OP, projectId: PROJECT, merchantId: 'm-1' },
        amount: { currency: 'CNY', amountMinor: amount },
        payerRef: 'resident-ledger',
        occurredAt: toTimestamp(new Date()),
      });
      orders.push(event.paymentId);
      await awaitOrder(app, event.paymentId, (o) => o.status === EscrowStatus.ESCROW_STATUS_HELD);
    }
    for (const orderId of orders.slice(0, 2)) {
      await app.refundOrder({
        requestId: randomUUID(),
        orderId,
        amount: { currency: 'CNY', amountMinor: 500n },
        destination: RefundDestination.REFUND_DESTINATION_WALLET,
        reason: 'wallet',
      });
    }

    const { accounts } = await app.listAccounts({
      operatorId: OP,
      projectId: PROJECT,
      kind: AccountKind.ACCOUNT_KIND_ESCROW,
      ownerRef: '',
      page: undefined,
    });
    expect(accounts).toHaveLength(1);
    const escrow = accounts[0]!;
    expect(escrow.account).toMatchObject({ kind: AccountKind.ACCOUNT_KIND_ESCROW, normalSide: 'credit' });
    expect(escrow.balance!.amountMinor).toBe(15_000n - 1_000n);
    const { balance } = await app.getAccountBalance({ accountId: escrow.account!.accountId });
    expect(balance).toEqual(escrow);

    // the wallet: credit normal, never negative
    const wallets = await app.listAccounts({
      operatorId: OP,
      projectId: '',
      kind: AccountKind.ACCOUNT_KIND_RESIDENT_WALLET,
      ownerRef: 'resident-ledger',
      page: undefined,
    });
    expect(wallets.accounts.map((a) => [a.balance!.amountMinor, a.available!.amountMinor])).toEqual([
      [1_000n, 1_000n],
    ]);

    // the escrow statement, 3 per page, newest first; balance_after walks back to 0
    const entries = [];
    const entryTokens: string[] = [];
    let pageToken = '';
    do {
      const page = await app.listAccountEntries({
        accountId: escrow.account!.accountId,
        page: { pageSize: 3, pageToken },
      });
      expect(page.entries.length).toBeLessThanOrEqual(3);
      entries.push(...page.entries);
      pageToken = page.page!.nextPageToken;
      entryTokens.push(pageToken);
    } while (pageToken);
    expect(entries).toHaveLength(7);
    expect(entries.map((e) => e.amount!.amountMinor)).toEqual([
      -500n,
      -500n,
      5_000n,
      4_000n,
      3_000n,
      2_000n,
      1_000n,
    ]);
    expect(entries.map((e) => e.balanceAfter!.amountMinor)).toEqual([
      14_000n,
      14_500n,
      15_000n,
      10_000n,
      6_000n,
      3_000n,
      1_000n,
    ]);

    // a transaction with its postings; another operator's client sees none of it
    const tx = await app.getTransaction({ transactionId: entries[6]!.transactionId });
    expect(tx.transaction!.postings.map((p) => [p.accountKind, p.amount!.amountMinor]).sort()).toEqual(
      [
        [AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING, 1_000n],
        [AccountKind.ACCOUNT_KIND_ESCROW, -1_000n],
      ].sort(),
    );
    for (const call of [
      foreign.getTransaction({ transactionId: entries[6]!.transactionId }),
      foreign.getAccountBalance({ accountId: escrow.account!.accountId }),
      foreign.listAccountEntries({ accountId: escrow.account!.accountId, page: undefined }),
    ]) {
      expect((await grpcError(call)).code).toBe(status.NOT_FOUND);
    }
    expect(
      (await foreign.listAccounts({ operatorId: OP, projectId: '', kind: 0, ownerRef: '', page: undefined }))
        .accounts,
    ).toEqual([]);

    // escrow's own postings are corrected through their orders, not by hand
    const refused = await grpcError(
      app.reverseTransaction({
        requestId: randomUUID(),
        transactionId: entries[6]!.transactionId,
        reason: 'oops',
      }),
    );
    expect([refused.code, errorCode(refused)]).toEqual([
      status.FAILED_PRECONDITION,
      'TRANSACTION_MANAGED_BY_ESCROW',
    ]);

    // a wallet fee payment (wallet -> property share) reversed: once, idempotent by request id
    const fee = await app.payPropertyFeeFromWallet({
      requestId: randomUUID(),
      operatorId: OP,
      projectId: PROJECT,
      ownerRef: 'resident-ledger',
      amount: { currency: 'CNY', amountMinor: 300n },
      billRef: 'bill-1',
    });
    const requestId = randomUUID();
    const reversal = await app.reverseTransaction({
      requestId,
      transactionId: fee.transaction!.transactionId,
      reason: 'billed twice',
    });
    expect(reversal.reversal!.reversesTransactionId).toBe(fee.transaction!.transactionId);
    expect(
      (
        await app.reverseTransaction({
          requestId,
          transactionId: fee.transaction!.transactionId,
          reason: 'billed twice',
        })
      ).reversal,
    ).toEqual(reversal.reversal);
    const reused = await grpcError(
      app.reverseTransaction({
        requestId,
        transactionId: fee.transaction!.transactionId,
        reason: 'other words',
      }),
    );
    expect(reused.code).toBe(status.ALREADY_EXISTS);
    expect(
      (await app.getWallet({ operatorId: OP, ownerRef: 'resident-ledger', currency: 'CNY' })).wallet!.balance!
        .amountMinor,
    ).toBe(1_000n);
    // a second reversal under a new request id posts nothing new
    const again = await app.reverseTransaction({
      requestId: randomUUID(),
      transactionId: fee.transaction!.transactionId,
      reason: 'billed twice',
    });
    expect(again.reversal!.transactionId).toBe(reversal.reversal!.transactionId);

    // bad input names the field
    const bad = await grpcError(app.getAccountBalance({ accountId: 'nope' }));
    expect([bad.code, bad.details]).toEqual([status.INVALID_ARGUMENT, 'account_id: must be a UUID']);
    const badPage = await grpcError(
      app.listAccountEntries({
        accountId: escrow.account!.accountId,
        page: { pageSize: 3, pageToken: 'zzz' },
      }),
    );
    expect([badPage.code, badPage.details]).toEqual([
      status.INVALID_ARGUMENT,
      'page.page_token: is not a token from a previous page of this list',
    ]);
    // tokens shaped almost like ours (not a UUID, an entry id beyond bigint) are refused, not passed to SQL
    const forged = [
      app.listAccounts({
        operatorId: OP,
        projectId: '',
        kind: 0,
        ownerRef: '',
        page: { pageSize: 3, pageToken: Buffer.from('-'.repeat(36)).toString('base64url') },
      }),
      app.listAccountEntries({
        accountId: escrow.account!.accountId,
        page: { pageSize: 3, pageToken: Buffer.from('9'.repeat(19)).toString('base64url') },
      }),
    ];
    for (const call of forged) expect((await grpcError(call)).code).toBe(status.INVALID_ARGUMENT);
    // tokens of ours, tampered with: an entry id beyond bigint, an account id that is no UUID, and
    // one list's token sent to the other
    const accountsPage = { operatorId: OP, projectId: '', kind: 0, ownerRef: '' };
    const accountsToken = (await app.listAccounts({ ...accountsPage, page: { pageSize: 1, pageToken: '' } }))
      .page!.nextPageToken;
    expect(accountsToken).not.toBe('');
    const tamper = (token: string, k: string[]) =>
      Buffer.from(
        JSON.stringify({ ...(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as object), k }),
      ).toString('base64url');
    const tampered = [
      () =>
        app.listAccountEntries({
          accountId: escrow.account!.accountId,
          page: { pageSize: 3, pageToken: tamper(entryTokens[0]!, ['9223372036854775808']) },
        }),
      () =>
        app.listAccounts({
          ...accountsPage,
          page: { pageSize: 3, pageToken: tamper(accountsToken, ['00000000-0000-0000-0000-00000000000g']) },
        }),
      () =>
        app.listAccountEntries({
          accountId: escrow.account!.accountId,
          page: { pageSize: 3, pageToken: accountsToken },
        }),
      () => app.listAccounts({ ...accountsPage, page: { pageSize: 3, pageToken: entryTokens[0]! } }),
    ];
    for (const call of tampered) {
      const err = await grpcError(call());
      expect([err.code, err.details]).toEqual([
        status.INVALID_ARGUMENT,
        'page.page_token: is not a token from a previous page of this list',
      ]);
    }
  }, 120_000);
});
