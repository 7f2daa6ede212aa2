import { randomUUID } from 'crypto';
import * as grpc from '@grpc/grpc-js';
import { Client } from 'pg';
import { cityPeriod } from '@citybase/platform';
import {
  bearer,
  kafkaTestPrefix,
  routeProjectToSandbox,
  SandboxChannelProcess,
  spawnSandboxChannel,
  TestIssuer,
  TestTokenOptions,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import {
  ALL_SCOPES,
  buildWorld,
  declarationOf,
  declarations,
  Json,
  processOf,
  RpcClients,
  ServiceFleet,
  SERVICES,
  validIdNumber,
  World,
  worldNames,
} from '../src';
import { DeviceCredentials, SimDevice } from '@citybase/device-sim';

/**
 * The authorization matrix: every RPC of every service, read from the contracts' descriptor set (so
 * an RPC added to a .proto is in it without anyone editing this file), called against every
 * real service process with:
 *   no token, an expired token, a token signed by an unknown key, `alg: none`, a tampered payload
 *     -> UNAUTHENTICATED, and the handler never ran;
 *   a valid token with every scope except the one the RPC declares -> PERMISSION_DENIED;
 *   a valid token with every scope, of operator B, asking for a resource of operator A
 *     -> PERMISSION_DENIED or NOT_FOUND (list RPCs: an answer without A's rows), and the reply
 *        contains nothing of A that the request did not already name; nothing is written.
 * The foreign-tenant case needs a request naming A's resource: FOREIGN below has one per RPC, and
 * an RPC without an entry fails the test (that is how a new RPC gets its entry).
 */

const SCOPES = [...ALL_SCOPES];
const ADMIN: TestTokenOptions = { scopes: [...SCOPES, 'city:admin'] };

/** Ids, names and personal values of operator A's resources, created in beforeAll. */
interface TenantA extends World {
  operatorB: string;
  paymentId: string;
  refundId: string;
  /** Payment: a completed checkout (money only) of A's resident. */
  checkoutId: string;
  /** Settlement: A's escrow account, a ledger transaction of A, a payout and a reconciliation report. */
  accountId: string;
  transactionId: string;
  payoutId: string;
  reportId: string;
  /** A's account at the sandbox channel (merchant number and key): must never reach B. */
  merchantNo: string;
  /** Points: a reservation of A's resident's points at A's merchant. */
  reservationId: string;
  /** Marketing: A's active campaign, a code batch of it, and a coupon A's resident claimed. */
  campaignId: string;
  batchId: string;
  couponId: string;
  /** Marketing: a checkout hold of another coupon of A's resident, and a QR token of a third. */
  redemptionId: string;
  redemptionToken: string;
  /** Marketing: a promotion of A's merchant for A's project, and a group deal of A's merchant. */
  promotionId: string;
  dealId: string;
  /** Data: A's grant of payment.payments to an agency, and a pull of it by the agency's client. */
  grantId: string;
  pullId: string;
  /** Iot: a device of A's project (a smoke sensor) and an alarm it raised. */
  deviceId: string;
  alarmId: string;
}

const PHONES = {
  staff: '13900000001',
  owner: '13900000002',
  resident: '13900000003',
  member: '13900000004',
  courier: '13900000005',
};
const IDS = {
  owner: validIdNumber('110105', '19800101', '101'),
  resident: validIdNumber('110105', '19900202', '202'),
  member: validIdNumber('110105', '19920303', '303'),
  courier: validIdNumber('110105', '19950404', '404'),
};
const NAMES = [...Object.values(worldNames('Alpha')), 'Alpha Member', 'Alpha Bronze'];

/** A request naming one of A's resources, for each RPC; `list` RPCs may answer OK without A's rows. */
type Foreign = { request: (a: TenantA) => Json; list?: true } | { unimplemented: true } | { publicRpc: true };
const rid = () => uniqueName('req');
const parkingTariff = (): Json => ({
  freeMinutes: 15,
  hourlyRate: { currency: 'CNY', amountMinor: '500' },
  dailyCap: { currency: 'CNY', amountMinor: '3000' },
});
const SANDBOX_CHANNEL = 'sandbox-authz';
/** A's points: a programme, and budgets city > A > A's project in the period issued in now. */
const BUDGET_PERIOD = cityPeriod(new Date());
const nowSeconds = () => Math.floor(Date.now() / 1000);
const groupDeal = (a: { operatorId: string; projectId: string; merchantId: string }): Json => ({
  tenancy: { operatorId: a.operatorId, projectId: a.projectId, merchantId: a.merchantId },
  title: 'Alpha lychees',
  itemCode: 'LYCHEE',
  price: { currency: 'CNY', amountMinor: '1000' },
  minParticipants: 2,
  maxParticipants: 5,
  deadline: { seconds: String(nowSeconds() + 86_400), nanos: 0 },
});
const promotionWindow = (): Json => ({
  validFrom: { seconds: String(nowSeconds() - 60), nanos: 0 },
  validUntil: { seconds: String(nowSeconds() + 86_400), nanos: 0 },
});
const pointsProgramme = (operatorId: string): Json => ({
  tenancy: { operatorId },
  pointValue: { currency: 'CNY', amountMinor: '1' },
  lotLifetimeDays: 365,
  refundWindowHours: 168,
  shortfallPolicy: 1,
  expiryNoticeDays: 30,
  tiers: [{ name: 'Alpha Bronze', threshold: '0', multiplierPermille: 1000 }],
  tierWindowDays: 365,
});
/** A's marketing campaign: claimable from an hour ago for a day. */
const marketingCampaign = (operatorId: string): Json => ({
  tenancy: { operatorId },
  name: 'Alpha coffee',
  discount: { amountOff: { currency: 'CNY', amountMinor: '1000' } },
  funding: 2,
  claimFrom: { seconds: String(Math.floor(Date.now() / 1000) - 3600), nanos: 0 },
  claimUntil: { seconds: String(Math.floor(Date.now() / 1000) + 86_400), nanos: 0 },
  couponValidDays: 30,
  maxCoupons: '100',
});
/** The agency client of A's grant (the token subject that may pull it). */
const AGENCY_CLIENT = 'authz-agency-client';

/** A's grant of payment.payments (its operator's rows) to an agency. */
const dataGrant = (a: { operatorId: string }): Json => ({
  tenancy: { operatorId: a.operatorId },
  agencyId: 'agency-tax',
  agencyClientId: AGENCY_CLIENT,
  datasets: [
    {
      datasetId: 'payment.payments',
      fields: [
        { name: 'district', masking: 1 },
        { name: 'amount_minor', masking: 6 },
      ],
    },
  ],
  purpose: 'authz matrix',
  validUntil: { seconds: String(Math.floor(Date.now() / 1000) + 86_400), nanos: 0 },
  quotaRowsPerDay: '1000',
});

/** A basket at A's merchant (marketing's quotes, reservations and counter redemptions). */
const marketingBasket = (a: TenantA): Json => ({
  tenancy: { operatorId: a.operatorId, projectId: a.projectId, merchantId: a.merchantId },
  scenario: 4,
  total: { currency: 'CNY', amountMinor: '1000' },
});
const FOREIGN: Record<string, Foreign> = {
  '/citybase.identity.v1.TenancyService/CreateOperator': {
    request: () => ({ requestId: rid(), name: 'Gamma Co' }),
  },
  '/citybase.identity.v1.TenancyService/GetOperator': { request: (a) => ({ operatorId: a.operatorId }) },
  '/citybase.identity.v1.TenancyService/ListOperators': { request: () => ({}), list: true },
  '/citybase.identity.v1.TenancyService/CreateProject': {
    request: (a) => ({ requestId: rid(), operatorId: a.operatorId, name: 'Gamma Gardens', kind: 1 }),
  },
  '/citybase.identity.v1.TenancyService/GetProject': { request: (a) => ({ projectId: a.projectId }) },
  '/citybase.identity.v1.TenancyService/ListProjects': {
    request: (a) => ({ operatorId: a.operatorId }),
    list: true,
  },
  '/citybase.identity.v1.TenancyService/CreateBuilding': {
    request: (a) => ({ requestId: rid(), projectId: a.projectId, name: 'Gamma Tower' }),
  },
  '/citybase.identity.v1.TenancyService/CreateUnit': {
    request: (a) => ({ requestId: rid(), buildingId: a.buildingId, name: '9-909', floor: 9 }),
  },
  '/citybase.identity.v1.TenancyService/ListBuildings': {
    request: (a) => ({ projectId: a.projectId }),
    list: true,
  },
  '/citybase.identity.v1.TenancyService/RegisterMerchant': {
    request: (a) => ({
      requestId: rid(),
      projectId: a.projectId,
      name: 'Gamma Shop',
      location: 'gate 2',
      ownerName: 'Gamma Owner',
      ownerIdNumber: IDS.member,
      contactPhone: PHONES.member,
      leaseRef: 'L-9',
      businessScope: 'groceries',
      registeredByStaffId: a.staffId,
    }),
  },
  '/citybase.identity.v1.TenancyService/SetMerchantStatus': {
    request: (a) => ({
      requestId: rid(),
      merchantId: a.merchantId,
      status: 3,
      reason: 'hostile',
      changedByStaffId: a.staffId,
    }),
  },
  '/citybase.identity.v1.TenancyService/GetMerchant': { request: (a) => ({ merchantId: a.merchantId }) },
  '/citybase.identity.v1.TenancyService/ListMerchants': {
    request: (a) => ({ projectId: a.projectId }),
    list: true,
  },
  '/citybase.identity.v1.TenancyService/CreateAgency': {
    request: () => ({ requestId: rid(), name: 'Gamma Tax', kind: 1 }),
  },
  '/citybase.identity.v1.TenancyService/ListAgencies': { request: () => ({}), list: true },
  '/citybase.identity.v1.PeopleService/RegisterResident': {
    request: (a) => ({
      requestId: rid(),
      projectId: a.projectId,
      name: 'Gamma Person',
      phone: PHONES.member,
      idNumber: IDS.member,
    }),
  },
  '/citybase.identity.v1.PeopleService/VerifyResident': {
    request: (a) => ({ requestId: rid(), residentId: a.residentId, verifiedByStaffId: a.staffId }),
  },
  '/citybase.identity.v1.PeopleService/GetResident': { request: (a) => ({ residentId: a.residentId }) },
  '/citybase.identity.v1.PeopleService/FindResidentByPhone': {
    request: (a) => ({ projectId: a.projectId, phone: PHONES.resident }),
  },
  '/citybase.identity.v1.PeopleService/CreateHousehold': {
    request: (a) => ({ requestId: rid(), unitId: a.unitId, headResidentId: a.residentId }),
  },
  '/citybase.identity.v1.PeopleService/BindHouseholdMember': {
    request: (a) => ({
      requestId: rid(),
      householdId: a.householdId,
      phone: PHONES.member,
      relation: 'cousin',
    }),
  },
  '/citybase.identity.v1.PeopleService/GetHousehold': { request: (a) => ({ householdId: a.householdId }) },
  '/citybase.identity.v1.PeopleService/RegisterStaff': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      role: 1,
      name: 'Gamma Staff',
      phone: PHONES.member,
    }),
  },
  '/citybase.identity.v1.PeopleService/GetStaff': { request: (a) => ({ staffId: a.staffId }) },
  '/citybase.identity.v1.PeopleService/RegisterCourier': {
    request: (a) => ({
      requestId: rid(),
      projectId: a.projectId,
      name: 'Gamma Courier',
      phone: PHONES.member,
      idNumber: IDS.member,
      photoRef: 'photos/g.jpg',
      employer: 'Gamma Express',
    }),
  },
  '/citybase.identity.v1.PeopleService/GetCourier': { request: (a) => ({ courierId: a.courierId }) },
  '/citybase.identity.v1.AccessService/IssueDoorGrant': {
    request: (a) => ({
      requestId: rid(),
      residentId: a.residentId,
      buildingId: a.buildingId,
      issuedByStaffId: a.staffId,
    }),
  },
  '/citybase.identity.v1.AccessService/RevokeDoorGrant': {
    request: (a) => ({ requestId: rid(), grantId: a.grantId, revokedByStaffId: a.staffId }),
  },
  '/citybase.identity.v1.AccessService/CheckDoorAccess': {
    request: (a) => ({ residentId: a.residentId, buildingId: a.buildingId }),
  },
  '/citybase.identity.v1.AccessService/ListDoorGrants': {
    request: (a) => ({ residentId: a.residentId }),
    list: true,
  },
  '/citybase.identity.v1.ClientService/CreateClient': {
    request: (a) => ({
      requestId: rid(),
      name: 'Gamma App',
      scopes: ['payment:write'],
      tenancy: { operatorIds: [a.operatorId] },
    }),
  },
  '/citybase.identity.v1.ClientService/RotateClientSecret': {
    request: (a) => ({ requestId: rid(), clientId: a.clientId }),
  },
  '/citybase.identity.v1.ClientService/RevokeClient': {
    request: (a) => ({ requestId: rid(), clientId: a.clientId, reason: 'hostile takeover' }),
  },
  '/citybase.identity.v1.ClientService/GetClient': { request: (a) => ({ clientId: a.clientId }) },
  '/citybase.identity.v1.ClientService/ListClients': { request: () => ({}), list: true },
  '/citybase.identity.v1.ClientService/RotateSigningKey': { request: () => ({ requestId: rid() }) },
  '/citybase.identity.v1.TokenService/IssueToken': { publicRpc: true },
  '/citybase.payment.v1.PaymentService/CreatePayment': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      merchantId: a.merchantId,
      scenario: 4,
      amount: { currency: 'CNY', amountMinor: '100' },
      payerRef: 'payer-g',
    }),
  },
  '/citybase.payment.v1.PaymentService/GetPayment': { request: (a) => ({ paymentId: a.paymentId }) },
  '/citybase.payment.v1.PaymentService/RegisterChannel': {
    request: () => ({
      requestId: rid(),
      channelId: 'gamma-pay',
      kind: 1,
      displayName: 'Gamma',
      endpoint: 'http://127.0.0.1:9',
    }),
  },
  '/citybase.payment.v1.PaymentService/SetChannelStatus': {
    request: () => ({ requestId: rid(), channelId: SANDBOX_CHANNEL, enabled: false }),
  },
  // the city's catalog is not tenant data; A's account at a channel is
  '/citybase.payment.v1.PaymentService/ListChannels': { request: () => ({}), list: true },
  '/citybase.payment.v1.PaymentService/ConfigureProjectChannel': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      channelId: SANDBOX_CHANNEL,
      merchantNo: 'gamma-merchant',
      credentials: 'gamma-key-0123456789',
      enabled: true,
    }),
  },
  '/citybase.payment.v1.PaymentService/SetRoutingRules': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      rules: [{ channelId: SANDBOX_CHANNEL, priority: 0, weight: 1 }],
    }),
  },
  '/citybase.payment.v1.PaymentService/GetProjectChannels': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId, projectId: a.projectId } }),
    list: true,
  },
  '/citybase.payment.v1.PaymentService/ConfirmPayment': { request: (a) => ({ paymentId: a.paymentId }) },
  '/citybase.payment.v1.PaymentService/RefundPayment': {
    request: (a) => ({
      requestId: rid(),
      paymentId: a.paymentId,
      amount: { currency: 'CNY', amountMinor: '1' },
      reason: 'hostile',
    }),
  },
  '/citybase.payment.v1.PaymentService/GetRefund': { request: (a) => ({ refundId: a.refundId }) },
  '/citybase.payment.v1.PaymentService/CreateCheckout': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      merchantId: a.merchantId,
      scenario: 4,
      total: { currency: 'CNY', amountMinor: '1000' },
      userId: a.residentId,
      payerRef: a.residentId,
    }),
  },
  '/citybase.payment.v1.PaymentService/GetCheckout': { request: (a) => ({ checkoutId: a.checkoutId }) },
  '/citybase.payment.v1.PaymentService/CancelCheckout': {
    request: (a) => ({ requestId: rid(), checkoutId: a.checkoutId }),
  },
  '/citybase.payment.v1.PaymentService/RefundCheckout': {
    request: (a) => ({
      requestId: rid(),
      checkoutId: a.checkoutId,
      amount: { currency: 'CNY', amountMinor: '1' },
      reason: 'hostile',
    }),
  },
  '/citybase.payment.v1.PaymentService/ListCheckouts': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId, projectId: a.projectId } }),
    list: true,
  },
  // grouped by operator and project: a row of A's would carry A's ids, which the request does not name
  '/citybase.payment.v1.PaymentService/QueryFundFlows': {
    request: () => ({ fromDay: '2026-01-01', toDay: '2026-12-31', groupBy: [2, 3] }),
    list: true,
  },
  '/citybase.settlement.v1.SettlementService/GetAccountBalance': {
    request: (a) => ({ accountId: a.accountId }),
  },
  '/citybase.settlement.v1.SettlementService/ListAccounts': {
    request: (a) => ({ operatorId: a.operatorId }),
    list: true,
  },
  '/citybase.settlement.v1.SettlementService/ListAccountEntries': {
    request: (a) => ({ accountId: a.accountId }),
  },
  '/citybase.settlement.v1.SettlementService/GetTransaction': {
    request: (a) => ({ transactionId: a.transactionId }),
  },
  '/citybase.settlement.v1.SettlementService/ReverseTransaction': {
    request: (a) => ({ requestId: rid(), transactionId: a.transactionId, reason: 'hostile' }),
  },
  '/citybase.settlement.v1.SettlementService/SetSplitRule': {
    request: (a) => ({
      requestId: rid(),
      rule: { operatorId: a.operatorId, projectId: a.projectId, commissionBps: 3000, autoConfirmHours: 1 },
    }),
  },
  '/citybase.settlement.v1.SettlementService/ListSplitRules': {
    request: (a) => ({ operatorId: a.operatorId, projectId: a.projectId }),
    list: true,
  },
  '/citybase.settlement.v1.SettlementService/GetEscrowOrder': { request: (a) => ({ orderId: a.paymentId }) },
  '/citybase.settlement.v1.SettlementService/ListEscrowOrders': {
    request: (a) => ({ operatorId: a.operatorId, projectId: a.projectId }),
    list: true,
  },
  '/citybase.settlement.v1.SettlementService/CompleteOrder': {
    request: (a) => ({ requestId: rid(), orderId: a.paymentId }),
  },
  '/citybase.settlement.v1.SettlementService/OpenDispute': {
    request: (a) => ({ requestId: rid(), orderId: a.paymentId, reason: 'hostile' }),
  },
  '/citybase.settlement.v1.SettlementService/ResolveDispute': {
    request: (a) => ({
      requestId: rid(),
      orderId: a.paymentId,
      resolution: 2,
      note: 'hostile',
      refundDestination: 1,
    }),
  },
  '/citybase.settlement.v1.SettlementService/RefundOrder': {
    request: (a) => ({
      requestId: rid(),
      orderId: a.paymentId,
      amount: { currency: 'CNY', amountMinor: '1' },
      destination: 2,
      reason: 'hostile',
    }),
  },
  '/citybase.settlement.v1.SettlementService/GetEscrowPositions': {
    request: (a) => ({ operatorId: a.operatorId, projectId: a.projectId }),
    list: true,
  },
  '/citybase.settlement.v1.SettlementService/GetWallet': {
    request: (a) => ({ operatorId: a.operatorId, ownerRef: a.residentId, currency: 'CNY' }),
  },
  '/citybase.settlement.v1.SettlementService/WithdrawFromWallet': {
    request: (a) => ({
      requestId: rid(),
      operatorId: a.operatorId,
      ownerRef: a.residentId,
      amount: { currency: 'CNY', amountMinor: '1' },
      bankAccount: '6222020000000000',
    }),
  },
  '/citybase.settlement.v1.SettlementService/PayPropertyFeeFromWallet': {
    request: (a) => ({
      requestId: rid(),
      operatorId: a.operatorId,
      projectId: a.projectId,
      ownerRef: a.residentId,
      amount: { currency: 'CNY', amountMinor: '1' },
      billRef: 'bill-hostile',
    }),
  },
  '/citybase.settlement.v1.SettlementService/RunPayoutCycle': {
    request: (a) => ({ requestId: rid(), operatorId: a.operatorId, projectId: a.projectId, currency: 'CNY' }),
  },
  '/citybase.settlement.v1.SettlementService/ConfirmPayout': {
    request: (a) => ({ requestId: rid(), payoutId: a.payoutId, succeeded: true, bankReference: 'hostile' }),
  },
  '/citybase.settlement.v1.SettlementService/ListPayouts': {
    request: (a) => ({ operatorId: a.operatorId, projectId: a.projectId }),
    list: true,
  },
  '/citybase.settlement.v1.SettlementService/ImportChannelStatement': {
    request: (a) => ({
      requestId: rid(),
      operatorId: a.operatorId,
      projectId: a.projectId,
      channelId: SANDBOX_CHANNEL,
      day: '2026-11-22',
      csv: 'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at\n',
    }),
  },
  '/citybase.settlement.v1.SettlementService/GetReconciliationReport': {
    request: (a) => ({ reportId: a.reportId }),
  },
  '/citybase.settlement.v1.SettlementService/QueryTaxRecords': {
    request: (a) => ({ operatorId: a.operatorId, period: '2026-11' }),
    list: true,
  },
  '/citybase.settlement.v1.SettlementService/ExportTaxRecords': {
    request: (a) => ({ operatorId: a.operatorId, period: '2026-11' }),
    list: true,
  },
  // points: A's holder in A's programme (B's token names A's operator), A's reservation
  '/citybase.points.v1.PointsService/GetBalance': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, holderId: a.residentId }),
  },
  '/citybase.points.v1.PointsService/ListLots': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, holderId: a.residentId }),
    list: true,
  },
  '/citybase.points.v1.PointsService/ListHistory': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, holderId: a.residentId }),
    list: true,
  },
  '/citybase.points.v1.PointsService/IssuePoints': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      holderId: a.residentId,
      points: '1000',
      reason: 'HOSTILE',
    }),
  },
  '/citybase.points.v1.PointsService/ReservePoints': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId, merchantId: a.merchantId },
      holderId: a.residentId,
      points: '1',
      reference: 'hostile',
    }),
  },
  '/citybase.points.v1.PointsService/ConfirmReservation': {
    request: (a) => ({ requestId: rid(), reservationId: a.reservationId }),
  },
  '/citybase.points.v1.PointsService/CancelReservation': {
    request: (a) => ({ requestId: rid(), reservationId: a.reservationId }),
  },
  '/citybase.points.v1.PointsService/GetReservation': {
    request: (a) => ({ reservationId: a.reservationId }),
  },
  // A's resident's points sent to another holder of A's programme
  '/citybase.points.v1.PointsService/TransferPoints': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId },
      fromHolderId: a.residentId,
      toHolderId: 'hostile-holder',
      points: '1',
      reason: 'HOSTILE',
    }),
  },
  // a household in A's programme with A's resident as a member
  '/citybase.points.v1.PointsService/SetHouseholdMembers': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId },
      householdId: 'hostile-home',
      memberIds: [a.residentId],
    }),
  },
  '/citybase.points.v1.PointsService/SetProgramme': {
    request: (a) => ({ requestId: rid(), programme: pointsProgramme(a.operatorId) }),
  },
  '/citybase.points.v1.PointsService/GetProgramme': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId } }),
  },
  '/citybase.points.v1.PointsService/SetEarningRule': {
    request: (a) => ({
      requestId: rid(),
      rule: { tenancy: { operatorId: a.operatorId }, scenario: 1, pointsPerYuan: 1, dailyCap: '0' },
    }),
  },
  '/citybase.points.v1.PointsService/ListEarningRules': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId } }),
  },
  '/citybase.points.v1.PointsService/SetBudget': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      period: BUDGET_PERIOD,
      allotted: '1',
    }),
  },
  '/citybase.points.v1.PointsService/GetBudget': {
    request: (a) => ({
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      period: BUDGET_PERIOD,
    }),
  },
  '/citybase.points.v1.PointsService/ListBudgets': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, period: BUDGET_PERIOD }),
    list: true,
  },
  // marketing: A's campaign, its code batch and a coupon of A's resident (B's token names A's operator)
  '/citybase.marketing.v1.MarketingService/CreateCampaign': {
    request: (a) => ({ requestId: rid(), campaign: marketingCampaign(a.operatorId) }),
  },
  '/citybase.marketing.v1.MarketingService/UpdateCampaign': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId },
      campaignId: a.campaignId,
      status: 3,
    }),
  },
  '/citybase.marketing.v1.MarketingService/GetCampaign': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, campaignId: a.campaignId }),
  },
  '/citybase.marketing.v1.MarketingService/ListCampaigns': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId } }),
    list: true,
  },
  '/citybase.marketing.v1.MarketingService/GenerateCodes': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId },
      campaignId: a.campaignId,
      count: '1',
    }),
  },
  '/citybase.marketing.v1.MarketingService/GetCodeBatch': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, batchId: a.batchId }),
  },
  '/citybase.marketing.v1.MarketingService/ExportCodes': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, batchId: a.batchId }),
    list: true,
  },
  '/citybase.marketing.v1.MarketingService/ClaimCoupon': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId },
      campaignId: a.campaignId,
      userId: a.residentId,
    }),
  },
  '/citybase.marketing.v1.MarketingService/GetCoupon': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, couponId: a.couponId }),
  },
  '/citybase.marketing.v1.MarketingService/ListCoupons': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, userId: a.residentId }),
    list: true,
  },
  '/citybase.marketing.v1.MarketingService/QuoteDiscount': {
    request: (a) => ({ userId: a.residentId, basket: marketingBasket(a), couponIds: [a.couponId] }),
  },
  '/citybase.marketing.v1.MarketingService/ReserveCoupon': {
    request: (a) => ({
      requestId: rid(),
      userId: a.residentId,
      couponId: a.couponId,
      basket: marketingBasket(a),
      reference: 'hostile',
    }),
  },
  '/citybase.marketing.v1.MarketingService/ConfirmCouponReservation': {
    request: (a) => ({ requestId: rid(), redemptionId: a.redemptionId }),
  },
  '/citybase.marketing.v1.MarketingService/CancelCouponReservation': {
    request: (a) => ({ requestId: rid(), redemptionId: a.redemptionId }),
  },
  '/citybase.marketing.v1.MarketingService/IssueRedemptionToken': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, userId: a.residentId, couponId: a.couponId }),
  },
  // the public keys of QR tokens are the city's, not a tenant's: B gets them, and nothing of A
  '/citybase.marketing.v1.MarketingService/GetTokenKeys': { request: () => ({}), list: true },
  '/citybase.marketing.v1.MarketingService/RedeemToken': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId, merchantId: a.merchantId },
      token: a.redemptionToken,
      basket: marketingBasket(a),
    }),
  },
  '/citybase.marketing.v1.MarketingService/CreateGroupDeal': {
    request: (a) => ({ requestId: rid(), deal: groupDeal(a) }),
  },
  '/citybase.marketing.v1.MarketingService/JoinGroupDeal': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      dealId: a.dealId,
      userId: a.residentId,
    }),
  },
  '/citybase.marketing.v1.MarketingService/GetGroupDeal': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, dealId: a.dealId }),
  },
  '/citybase.marketing.v1.MarketingService/SubmitPromotion': {
    request: (a) => ({
      requestId: rid(),
      promotion: {
        tenancy: { operatorId: a.operatorId, merchantId: a.merchantId },
        title: 'Hostile',
        body: 'Hostile',
        ...promotionWindow(),
        reviews: [{ projectId: a.projectId }],
      },
    }),
  },
  '/citybase.marketing.v1.MarketingService/ReviewPromotion': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      promotionId: a.promotionId,
      decision: 2,
    }),
  },
  '/citybase.marketing.v1.MarketingService/ListPromotions': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId, projectId: a.projectId } }),
  },
  '/citybase.marketing.v1.MarketingService/GetProjectFeed': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId, projectId: a.projectId }, kind: 1 }),
  },
  '/citybase.marketing.v1.MarketingService/CreatePlacement': {
    request: (a) => ({
      requestId: rid(),
      placement: {
        tenancy: { operatorId: a.operatorId, projectId: a.projectId },
        slot: 'hostile',
        promotionId: a.promotionId,
        ...promotionWindow(),
      },
    }),
  },
  '/citybase.marketing.v1.MarketingService/RecordInteractions': {
    request: (a) => ({
      tenancy: { operatorId: a.operatorId },
      interactions: [{ interactionId: rid(), promotionId: a.promotionId, projectId: a.projectId, kind: 2 }],
    }),
  },
  '/citybase.marketing.v1.MarketingService/GetPromotionStats': {
    request: (a) => ({
      tenancy: { operatorId: a.operatorId, merchantId: a.merchantId },
      promotionId: a.promotionId,
    }),
  },
  // data feeds: the catalog is the city's (changed by the city admin only, read by any caller with
  // the scope: it holds no tenant's rows); A's grant and pull answer B like missing ones
  '/citybase.data.v1.DataService/RegisterDataset': {
    request: () => ({
      requestId: rid(),
      datasetId: 'payment.hostile',
      title: 'Hostile',
      sourceTable: 'fact_payment',
      owner: 'b',
      updateFrequency: 'daily',
      fields: [{ name: 'district', classification: 1 }],
    }),
  },
  '/citybase.data.v1.DataService/ListDatasets': { request: () => ({}), list: true },
  '/citybase.data.v1.DataService/GetDataset': {
    request: () => ({ datasetId: 'payment.payments' }),
    list: true,
  },
  '/citybase.data.v1.DataService/ClassifyField': {
    request: () => ({
      requestId: rid(),
      datasetId: 'payment.payments',
      field: 'district',
      classification: 3,
    }),
  },
  '/citybase.data.v1.DataService/ScanDataset': {
    request: () => ({ requestId: rid(), datasetId: 'payment.payments' }),
  },
  '/citybase.data.v1.DataService/IssueGrant': {
    request: (a) => ({
      requestId: rid(),
      ...dataGrant(a),
    }),
  },
  '/citybase.data.v1.DataService/GetGrant': { request: (a) => ({ grantId: a.grantId }) },
  '/citybase.data.v1.DataService/ListGrants': { request: () => ({}), list: true },
  '/citybase.data.v1.DataService/RevokeGrant': {
    request: (a) => ({ requestId: rid(), grantId: a.grantId, reason: 'hostile' }),
  },
  '/citybase.data.v1.DataService/PullFeed': {
    request: (a) => ({ grantId: a.grantId, datasetId: 'payment.payments' }),
  },
  '/citybase.data.v1.DataService/GetPullEvidence': { request: (a) => ({ pullId: a.pullId }) },
  '/citybase.data.v1.DataService/ExportAccessLog': { request: () => ({}) },
  // the analytical store: A's operator as the scope is refused to B (docs/data.md "AnalyticsService")
  '/citybase.data.v1.AnalyticsService/GetDashboard': {
    request: (a) => ({ scope: { operatorId: a.operatorId } }),
  },
  '/citybase.data.v1.AnalyticsService/GetFreshness': {
    request: (a) => ({ scope: { operatorId: a.operatorId } }),
  },
  '/citybase.data.v1.AnalyticsService/ListRollups': {
    request: (a) => ({
      scope: { operatorId: a.operatorId, projectId: a.projectId },
      granularity: 1,
      from: { seconds: String(nowSeconds() - 86_400), nanos: 0 },
      to: { seconds: String(nowSeconds() + 3_600), nanos: 0 },
    }),
  },
  '/citybase.iot.v1.IotService/RegisterDevice': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      kind: 5,
      name: 'Hostile',
      serialNumber: 'hostile-1',
    }),
  },
  '/citybase.iot.v1.IotService/GetDevice': { request: (a) => ({ deviceId: a.deviceId }) },
  '/citybase.iot.v1.IotService/ListDevices': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId, projectId: a.projectId } }),
  },
  '/citybase.iot.v1.IotService/RotateDeviceCredentials': {
    request: (a) => ({ requestId: rid(), deviceId: a.deviceId }),
  },
  '/citybase.iot.v1.IotService/RevokeDevice': {
    request: (a) => ({ requestId: rid(), deviceId: a.deviceId, reason: 'hostile' }),
  },
  '/citybase.iot.v1.IotService/GetDeviceState': { request: (a) => ({ deviceId: a.deviceId }) },
  '/citybase.iot.v1.IotService/ListTelemetry': { request: (a) => ({ deviceId: a.deviceId }) },
  '/citybase.iot.v1.IotService/ListAlarms': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId, projectId: a.projectId }, deviceId: a.deviceId }),
  },
  '/citybase.iot.v1.IotService/AcknowledgeAlarm': {
    request: (a) => ({ requestId: rid(), alarmId: a.alarmId }),
  },
  '/citybase.iot.v1.IotService/ClearAlarm': { request: (a) => ({ requestId: rid(), alarmId: a.alarmId }) },
  // iot ops: A's device (the smoke sensor); lots, sessions and commands of A are named by ids B
  // cannot know (NOT_FOUND like a missing one); RPCs naming A's tenancy are refused by it
  '/citybase.iot.v1.CommandService/SendCommand': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      deviceId: a.deviceId,
      kind: 6,
      ttlSeconds: 0,
    }),
  },
  '/citybase.iot.v1.CommandService/GetCommand': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, commandId: randomUUID() }),
  },
  '/citybase.iot.v1.CommandService/ListCommands': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, deviceId: a.deviceId }),
    list: true,
  },
  '/citybase.iot.v1.CommandService/CancelCommand': {
    request: (a) => ({ requestId: rid(), tenancy: { operatorId: a.operatorId }, commandId: randomUUID() }),
  },
  '/citybase.iot.v1.AccessService/BindDoor': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      deviceId: a.deviceId,
      unitId: 'unit-hostile',
    }),
  },
  '/citybase.iot.v1.AccessService/OpenDoor': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      deviceId: a.deviceId,
      residentId: a.residentId,
    }),
  },
  '/citybase.iot.v1.AccessService/IssueCourierCode': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      courierId: 'courier-hostile',
      unitId: 'unit-hostile',
      residentId: a.residentId,
    }),
  },
  '/citybase.iot.v1.AccessService/UseCourierCode': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      deviceId: a.deviceId,
      code: '123456',
    }),
  },
  '/citybase.iot.v1.AccessService/ListAccessRecords': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId, projectId: a.projectId } }),
    list: true,
  },
  '/citybase.iot.v1.ParkingService/CreateLot': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId, merchantId: a.merchantId },
      name: 'Hostile lot',
      capacity: 10,
      entryCameraId: randomUUID(),
      exitCameraId: randomUUID(),
      exitGateId: randomUUID(),
      tariff: parkingTariff(),
    }),
  },
  '/citybase.iot.v1.ParkingService/SetParkingTariff': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId },
      lotId: randomUUID(),
      tariff: parkingTariff(),
    }),
  },
  '/citybase.iot.v1.ParkingService/GetLot': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, lotId: randomUUID() }),
  },
  '/citybase.iot.v1.ParkingService/IssuePass': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId },
      lotId: randomUUID(),
      plate: 'HOSTILE1',
      residentId: a.residentId,
      ...promotionWindow(),
    }),
  },
  // the attendant's console (scope iot:write); cameras report their reads over MQTT
  '/citybase.iot.v1.ParkingService/RecordPlateRead': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId },
      cameraId: randomUUID(),
      plate: 'HOSTILE1',
      direction: 1,
    }),
  },
  '/citybase.iot.v1.ParkingService/GetParkingSession': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, sessionId: randomUUID() }),
  },
  '/citybase.iot.v1.ParkingService/ListParkingSessions': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, lotId: randomUUID() }),
  },
  '/citybase.iot.v1.ChargingService/ConfigureCharger': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId, projectId: a.projectId, merchantId: a.merchantId },
      deviceId: a.deviceId,
      tariff: {
        bands: [{ fromMinute: 0, pricePerKwh: { currency: 'CNY', amountMinor: '100' } }],
        serviceFeePerKwh: { currency: 'CNY', amountMinor: '50' },
      },
    }),
  },
  '/citybase.iot.v1.ChargingService/GetCharger': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, deviceId: a.deviceId }),
  },
  '/citybase.iot.v1.ChargingService/GetChargingSession': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, sessionId: randomUUID() }),
  },
  '/citybase.iot.v1.ChargingService/ListChargingSessions': {
    request: (a) => ({ tenancy: { operatorId: a.operatorId }, deviceId: a.deviceId }),
  },
  '/citybase.iot.v1.ChargingService/PayChargingSession': {
    request: (a) => ({
      requestId: rid(),
      tenancy: { operatorId: a.operatorId },
      sessionId: randomUUID(),
      points: '100',
      couponCode: 'HOSTILE',
    }),
  },
};

describe('authorization matrix: every RPC of every service (from the descriptor set)', () => {
  let issuer: TestIssuer;
  let fleet: ServiceFleet | undefined;
  let rpc: RpcClients;
  let a: TenantA;
  let sandbox: SandboxChannelProcess | undefined;
  let eventsAfterSetup: number;
  const identityEvents = async (): Promise<{ count: number; payloads: Buffer[] }> => {
    const pg = new Client({ connectionString: fleet!.dbs.get('identity')!.url });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ payload: Buffer }>(`SELECT payload FROM outbox`);
      return { count: rows.length, payloads: rows.map((r) => r.payload) };
    } finally {
      await pg.end();
    }
  };

  // requests and replies in camelCase, as the cases above are written
  const call = (d: (typeof declarations)[number], request: Json, metadata: grpc.Metadata) =>
    rpc.callCamel(d, request, metadata);
  const ok = (path: string, request: Json): Promise<Json> => rpc.ok(path, request, issuer.metadata(ADMIN));
  const idOf = (body: Json, key: string, field: string) => (body[key] as Json)[field] as string;
  /** Points of A's resident (issued against A's budget, set up below) and a reservation of some at A's merchant. */
  const pointsReservation = async (w: TenantA): Promise<string> => {
    const P = '/citybase.points.v1.PointsService/';
    await ok(`${P}IssuePoints`, {
      requestId: rid(),
      tenancy: { operatorId: w.operatorId },
      holderId: w.residentId,
      points: '100',
      reason: 'WELCOME',
    });
    return idOf(
      await ok(`${P}ReservePoints`, {
        requestId: rid(),
        tenancy: { operatorId: w.operatorId, projectId: w.projectId, merchantId: w.merchantId },
        holderId: w.residentId,
        points: '10',
        reference: 'authz',
      }),
      'reservation',
      'reservationId',
    );
  };

  /** A's smoke sensor, connected as a real MQTT device, and the alarm its smoke raised. */
  const iotOfA = async (w: TenantA): Promise<Pick<TenantA, 'deviceId' | 'alarmId'>> => {
    const I = '/citybase.iot.v1.IotService/';
    const registered = await ok(`${I}RegisterDevice`, {
      requestId: rid(),
      tenancy: { operatorId: w.operatorId, projectId: w.projectId },
      kind: 5,
      name: 'Alpha lobby smoke',
      serialNumber: uniqueName('smoke'),
      profile: 'lab-sensor',
    });
    const deviceId = idOf(registered, 'device', 'deviceId');
    const device = new SimDevice(registered.credentials as unknown as DeviceCredentials);
    await device.connect();
    try {
      await device.telemetry({ smoke_ppm: 900 });
      const alarmId = await waitFor(
        'the smoke raises an alarm',
        async () => {
          const list = await ok(`${I}ListAlarms`, {
            tenancy: { operatorId: w.operatorId, projectId: w.projectId },
            deviceId,
          });
          return ((list.alarms as Json[] | undefined)?.[0]?.alarmId as string | undefined) || undefined;
        },
        60_000,
      ).catch((err: Error) => {
        // what iot said, to tell a slow ingest from a broken one
        throw new Error(`${err.message}\niot:\n${fleet!.procs.get('iot')?.output().slice(-4000)}`);
      });
      return { deviceId, alarmId };
    } finally {
      await device.stop();
    }
  };

  /** A's active campaign (10 CNY off, 100 coupons), a batch of 5 codes, and a coupon of A's resident. */
  const marketingOfA = async (w: TenantA): Promise<Pick<TenantA, 'campaignId' | 'batchId' | 'couponId'>> => {
    const M = '/citybase.marketing.v1.MarketingService/';
    const campaignId = idOf(
      await ok(`${M}CreateCampaign`, { requestId: rid(), campaign: marketingCampaign(w.operatorId) }),
      'campaign',
      'campaignId',
    );
    const tenancy = { operatorId: w.operatorId };
    await ok(`${M}UpdateCampaign`, { requestId: rid(), tenancy, campaignId, status: 2 });
    const batchId = idOf(
      await ok(`${M}GenerateCodes`, { requestId: rid(), tenancy, campaignId, count: '5' }),
      'batch',
      'batchId',
    );
    const couponId = idOf(
      await ok(`${M}ClaimCoupon`, { requestId: rid(), tenancy, campaignId, userId: w.residentId }),
      'coupon',
      'couponId',
    );
    return { campaignId, batchId, couponId };
  };

  /** A checkout hold of another coupon of A's resident at A's merchant, and a QR token of a third. */
  const marketingRedemptions = async (
    w: TenantA,
  ): Promise<Pick<TenantA, 'redemptionId' | 'redemptionToken'>> => {
    const M = '/citybase.marketing.v1.MarketingService/';
    const tenancy = { operatorId: w.operatorId };
    const claim = async () =>
      idOf(
        await ok(`${M}ClaimCoupon`, {
          requestId: rid(),
          tenancy,
          campaignId: w.campaignId,
          userId: w.residentId,
        }),
        'coupon',
        'couponId',
      );
    const redemptionId = idOf(
      await ok(`${M}ReserveCoupon`, {
        requestId: rid(),
        userId: w.residentId,
        couponId: await claim(),
        basket: marketingBasket(w),
        reference: 'authz-checkout',
      }),
      'redemption',
      'redemptionId',
    );
    const token = (
      await ok(`${M}IssueRedemptionToken`, { tenancy, userId: w.residentId, couponId: await claim() })
    ).token as string;
    return { redemptionId, redemptionToken: token };
  };

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    const prefix = kafkaTestPrefix('authz');
    fleet = new ServiceFleet({
      label: 'authz',
      issuer,
      kafkaPrefix: () => prefix,
      logLevel: 'info',
    });
    rpc = new RpcClients((service) => fleet!.address(service));
    await fleet.start(SERVICES);

    // Operator A's world, built by a city admin through the real RPCs, and operator B.
    const world = await buildWorld(ok, {
      label: 'Alpha',
      requestId: rid,
      phone: (who) => PHONES[who],
      idNumber: (who) => IDS[who],
    });
    const { operatorId, projectId, merchantId, residentId, householdId } = world;
    const operatorB = idOf(
      await ok('/citybase.identity.v1.TenancyService/CreateOperator', {
        requestId: rid(),
        name: 'Beta Parks',
      }),
      'operator',
      'operatorId',
    );
    // a second member of A's household
    const P = '/citybase.identity.v1.PeopleService/';
    await ok(`${P}RegisterResident`, {
      requestId: rid(),
      projectId,
      name: 'Alpha Member',
      phone: PHONES.member,
      idNumber: IDS.member,
    });
    await ok(`${P}BindHouseholdMember`, {
      requestId: rid(),
      householdId,
      phone: PHONES.member,
      relation: 'spouse',
    });
    sandbox = await spawnSandboxChannel();
    await routeProjectToSandbox({
      paymentAddress: fleet.address('payment'),
      issuer,
      sandbox,
      operatorId,
      projectId,
      channelId: SANDBOX_CHANNEL,
    });
    const paymentId = idOf(
      await ok('/citybase.payment.v1.PaymentService/CreatePayment', {
        requestId: rid(),
        tenancy: { operatorId, projectId },
        merchantId,
        scenario: 4,
        amount: { currency: 'CNY', amountMinor: '4200' },
        payerRef: residentId,
      }),
      'payment',
      'paymentId',
    );
    await sandbox.pay(paymentId, 'success');
    await waitFor(
      'payment succeeded',
      async () =>
        ((await ok('/citybase.payment.v1.PaymentService/GetPayment', { paymentId })).payment as Json)
          .status === 3 || undefined,
      30_000,
    );
    const refundId = idOf(
      await ok('/citybase.payment.v1.PaymentService/RefundPayment', {
        requestId: rid(),
        paymentId,
        amount: { currency: 'CNY', amountMinor: '200' },
        reason: 'partial refund',
      }),
      'refund',
      'refundId',
    );
    // a checkout of A's resident paid in money only (payment calls neither points nor marketing)
    const checkout = (
      await ok('/citybase.payment.v1.PaymentService/CreateCheckout', {
        requestId: rid(),
        tenancy: { operatorId, projectId },
        merchantId,
        scenario: 4,
        total: { currency: 'CNY', amountMinor: '1500' },
        userId: residentId,
        payerRef: residentId,
      })
    ).checkout as Json;
    const checkoutId = checkout.checkoutId as string;
    await sandbox.pay(checkout.paymentId as string, 'success');
    await waitFor(
      'checkout completed',
      async () =>
        ((await ok('/citybase.payment.v1.PaymentService/GetCheckout', { checkoutId })).checkout as Json)
          .status === 3 || undefined,
      30_000,
    );
    a = {
      ...world,
      operatorB,
      paymentId,
      refundId,
      checkoutId,
      accountId: '',
      transactionId: '',
      payoutId: '',
      reportId: '',
      merchantNo: `m-${projectId}`.slice(0, 64),
      reservationId: '',
      campaignId: '',
      batchId: '',
      couponId: '',
      redemptionId: '',
      redemptionToken: '',
      promotionId: '',
      dealId: '',
      grantId: '',
      pullId: '',
      deviceId: '',
      alarmId: '',
    };
    const S = '/citybase.settlement.v1.SettlementService/';
    // settlement holds the payment in escrow (less the refund asked of payment directly)
    await waitFor(
      'settlement holds the payment in escrow',
      async () => {
        const reply = await call(
          declarationOf(`${S}GetEscrowOrder`),
          { orderId: paymentId },
          issuer.metadata(ADMIN),
        );
        const order = reply.body?.order as Json | undefined;
        return (order?.held as Json | undefined)?.amountMinor === '4000' || undefined;
      },
      60_000,
    );
    await ok(`${S}CompleteOrder`, { requestId: rid(), orderId: paymentId });
    const accounts = (await ok(`${S}ListAccounts`, { operatorId, projectId, kind: 2 })).accounts as Json[];
    const accountId = ((accounts[0]!.account as Json).accountId as string) ?? '';
    const entries = (await ok(`${S}ListAccountEntries`, { accountId })).entries as Json[];
    const transactionId = entries[0]!.transactionId as string;
    const payouts = (
      await ok(`${S}RunPayoutCycle`, { requestId: rid(), operatorId, projectId, currency: 'CNY' })
    ).payouts as Json[];
    const payoutId = payouts[0]!.payoutId as string;
    const reportId = idOf(
      await ok(`${S}ImportChannelStatement`, {
        requestId: rid(),
        operatorId,
        projectId,
        channelId: SANDBOX_CHANNEL,
        day: '2026-11-22',
        csv: 'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at\n',
      }),
      'report',
      'reportId',
    );
    a = { ...a, accountId, transactionId, payoutId, reportId };
    const PTS = '/citybase.points.v1.PointsService/';
    await ok(`${PTS}SetProgramme`, { requestId: rid(), programme: pointsProgramme(operatorId) });
    for (const [tenancy, allotted] of [
      [{}, '1000'],
      [{ operatorId }, '600'],
      [{ operatorId, projectId }, '400'],
    ] as const)
      await ok(`${PTS}SetBudget`, { requestId: rid(), tenancy, period: BUDGET_PERIOD, allotted });
    a = { ...a, reservationId: await pointsReservation(a) };
    a = { ...a, ...(await marketingOfA(a)) };
    a = { ...a, ...(await marketingRedemptions(a)) };
    const promotionId = idOf(
      await ok('/citybase.marketing.v1.MarketingService/SubmitPromotion', {
        requestId: rid(),
        promotion: {
          tenancy: { operatorId, merchantId },
          title: 'Alpha noodles',
          body: 'Hand-pulled at the north gate',
          ...promotionWindow(),
          reviews: [{ projectId }],
        },
      }),
      'promotion',
      'promotionId',
    );
    const dealId = idOf(
      await ok('/citybase.marketing.v1.MarketingService/CreateGroupDeal', {
        requestId: rid(),
        deal: groupDeal(a),
      }),
      'deal',
      'dealId',
    );
    a = { ...a, promotionId, dealId };
    const grantId = idOf(
      await ok('/citybase.data.v1.DataService/IssueGrant', { requestId: rid(), ...dataGrant(a) }),
      'grant',
      'grantId',
    );
    const pulled = await call(
      declarationOf('/citybase.data.v1.DataService/PullFeed'),
      { grantId, datasetId: 'payment.payments' },
      issuer.metadata({ scopes: SCOPES, sub: AGENCY_CLIENT }),
    );
    const messages = (pulled.body?.messages ?? []) as Json[];
    const manifest = messages.find((m) => m.manifest)?.manifest as Json | undefined;
    if (!manifest) throw new Error(`A's pull failed: ${grpc.status[pulled.code]} ${pulled.details}`);
    a = { ...a, grantId, pullId: manifest.pullId as string };
    a = { ...a, ...(await iotOfA(a)) };
    eventsAfterSetup = (await identityEvents()).count;
  }, 240_000);

  afterAll(async () => {
    rpc?.close();
    await fleet?.stop();
    await sandbox?.stop();
    await issuer?.stop();
  });

  it('covers every RPC of the descriptor set and has a foreign-tenant case for each', () => {
    expect(declarations.length).toBeGreaterThan(40);
    expect(new Set(declarations.map(processOf))).toEqual(new Set(SERVICES));
    const missing = declarations.filter((d) => !(d.path in FOREIGN)).map((d) => d.path);
    expect(missing).toEqual([]);
    const stale = Object.keys(FOREIGN).filter((p) => !declarations.some((d) => d.path === p));
    expect(stale).toEqual([]);
  });

  const BROKEN: [string, () => grpc.Metadata][] = [
    ['no token', () => new grpc.Metadata()],
    ['an expired token', () => issuer.metadata({ ...ADMIN, expiresIn: -120 })],
    ['a token signed by an unknown key', () => bearer(issuer.tokenFromUnknownKey(ADMIN))],
    ['alg none', () => bearer(issuer.tokenAlgNone(ADMIN))],
    [
      'a tampered payload',
      () => bearer(issuer.tokenTampered({ scopes: [] }, { scope: ADMIN.scopes!.join(' ') })),
    ],
  ];

  describe.each(declarations.filter((d) => !d.publicRpc).map((d) => [d.path, d] as const))(
    '%s',
    (_path, d) => {
      it.each(BROKEN)('refuses %s: UNAUTHENTICATED', async (_case, metadata) => {
        const reply = await call(d, {}, metadata());
        expect([grpc.status[reply.code], reply.body]).toEqual(['UNAUTHENTICATED', undefined]);
      });

      it('refuses a token with every scope but the declared one: PERMISSION_DENIED', async () => {
        const scopes = [...SCOPES, 'city:admin'].filter((s) => s !== d.requiredScope);
        const reply = await call(d, {}, issuer.metadata({ scopes }));
        expect([grpc.status[reply.code], reply.details]).toEqual([
          'PERMISSION_DENIED',
          `the token lacks scope ${d.requiredScope}`,
        ]);
      });

      it("gives operator B's client nothing of operator A's", async () => {
        const foreign = FOREIGN[d.path];
        if (!foreign || 'publicRpc' in foreign) throw new Error(`no foreign-tenant case for ${d.path}`);
        const token = issuer.metadata({ scopes: SCOPES, operators: [a.operatorB] });
        if ('unimplemented' in foreign) {
          expect(grpc.status[(await call(d, {}, token)).code]).toBe('UNIMPLEMENTED');
          return;
        }
        const request = foreign.request(a);
        const reply = await call(d, request, token);
        if (foreign.list && reply.code === grpc.status.OK) {
          // an answer is fine, as long as none of A's rows are in it
        } else {
          expect(['PERMISSION_DENIED', 'NOT_FOUND']).toContain(grpc.status[reply.code]);
        }
        const said = JSON.stringify(request);
        const markers = [
          ...Object.values(a),
          ...NAMES,
          ...Object.values(PHONES),
          ...Object.values(IDS),
        ].filter((m) => m !== a.operatorB && !said.includes(m));
        const replied = JSON.stringify(reply);
        expect(markers.filter((m) => replied.includes(m))).toEqual([]);
      });
    },
  );

  it('the public token endpoint answers without a token (its own checks, not the guard)', async () => {
    const reply = await call(
      declarationOf('/citybase.identity.v1.TokenService/IssueToken'),
      {},
      new grpc.Metadata(),
    );
    expect(grpc.status[reply.code]).toBe('INVALID_ARGUMENT');
  });

  it("wrote nothing for the foreign tenant's calls, and no log line or event holds a full phone or ID number", async () => {
    const events = await identityEvents();
    expect(events.count).toBe(eventsAfterSetup);
    expect(eventsAfterSetup).toBeGreaterThanOrEqual(15); // one per setup step
    const pii = [...Object.values(PHONES), ...Object.values(IDS)];
    for (const payload of events.payloads) {
      expect(pii.filter((v) => payload.toString('latin1').includes(v))).toEqual([]);
    }
    for (const [name, proc] of fleet!.procs) {
      expect([name, pii.filter((v) => proc.output().includes(v))]).toEqual([name, []]);
    }
  });
});
