import { CommandKind, CommandState, DeviceCommand } from '@citybase/contracts/citybase/iot/v1/commands';
import { Device, DeviceKind, DeviceStatus } from '@citybase/contracts/citybase/iot/v1/iot';
import { type ParkingLot, ParkingSessionState } from '@citybase/contracts/citybase/iot/v1/parking';
import {
  ChargingPaymentState,
  ChargingSession,
  ChargingSessionState,
} from '@citybase/contracts/citybase/iot/v1/charging';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status } from '@grpc/grpc-js';
import { type ApiClient, ClientStatus } from '@citybase/contracts/citybase/identity/v1/clients';
import { ProjectKind } from '@citybase/contracts/citybase/identity/v1/tenancy';
import {
  type Checkout,
  CheckoutStatus,
  PaymentScenario,
} from '@citybase/contracts/citybase/payment/v1/payment';
import type { Campaign, CodeBatch } from '@citybase/contracts/citybase/marketing/v1/marketing';
import {
  BudgetLevel,
  type Budget,
  HolderKind,
  ShortfallPolicy,
} from '@citybase/contracts/citybase/points/v1/points';
import type { ClientCredentials } from './credentials';
import type { Endpoints, IdentityApi } from './identity-api';
import type { Io } from './io';
import { cli } from './main';
import type { RunDeps } from './run';

const CREATED = { seconds: 1_767_323_045n, nanos: 0 };

function apiClient(clientId: string, extra: Partial<ApiClient> = {}): ApiClient {
  return {
    clientId,
    name: 'app',
    scopes: ['identity:tenancy.read'],
    tenancy: { operatorIds: [], projectIds: [] },
    status: ClientStatus.CLIENT_STATUS_ACTIVE,
    createdAt: CREATED,
    secretRotatedAt: undefined,
    revokedAt: undefined,
    createdByClientId: 'cb_admin',
    ...extra,
  };
}

function serviceError(code: status, details: string): Error {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}

/** Records every call; answers like identity would. Override a method to fail it. */
class FakeApi implements IdentityApi {
  calls: { method: string; req: unknown }[] = [];
  closed = false;
  private record(method: string, req: unknown): void {
    this.calls.push({ method, req });
  }
  createOperator: IdentityApi['createOperator'] = async (req) => {
    this.record('createOperator', req);
    return { operator: { operatorId: 'op-1', name: req.name, createdAt: CREATED } };
  };
  listOperators: IdentityApi['listOperators'] = async (req) => {
    this.record('listOperators', req);
    const token = req.page?.pageToken ?? '';
    return token === ''
      ? { operators: [{ operatorId: 'op-1', name: 'A', createdAt: CREATED }], page: { nextPageToken: 'p2' } }
      : { operators: [{ operatorId: 'op-2', name: 'B', createdAt: CREATED }], page: { nextPageToken: '' } };
  };
  createProject: IdentityApi['createProject'] = async (req) => {
    this.record('createProject', req);
    return {
      project: {
        projectId: 'p-1',
        operatorId: req.operatorId,
        name: req.name,
        kind: req.kind,
        createdAt: CREATED,
      },
    };
  };
  listProjects: IdentityApi['listProjects'] = async (req) => {
    this.record('listProjects', req);
    return {
      projects: [
        {
          projectId: 'p-1',
          operatorId: req.operatorId,
          name: 'N',
          kind: ProjectKind.PROJECT_KIND_SCHOOL,
          createdAt: CREATED,
        },
      ],
      page: undefined,
    };
  };
  createClient: IdentityApi['createClient'] = async (req) => {
    this.record('createClient', req);
    return {
      client: apiClient('cb_new', { name: req.name, scopes: req.scopes, tenancy: req.tenancy }),
      clientSecret: 's3cret',
    };
  };
  listClients: IdentityApi['listClients'] = async (req) => {
    this.record('listClients', req);
    return { clients: [apiClient('cb_admin', { createdByClientId: '' })], page: { nextPageToken: '' } };
  };
  rotateClientSecret: IdentityApi['rotateClientSecret'] = async (req) => {
    this.record('rotateClientSecret', req);
    return { client: apiClient(req.clientId, { secretRotatedAt: CREATED }), clientSecret: 'rotated' };
  };
  revokeClient: IdentityApi['revokeClient'] = async (req) => {
    this.record('revokeClient', req);
    return {
      client: apiClient(req.clientId, { status: ClientStatus.CLIENT_STATUS_REVOKED, revokedAt: CREATED }),
    };
  };
  rotateSigningKey: IdentityApi['rotateSigningKey'] = async (req) => {
    this.record('rotateSigningKey', req);
    return {
      key: { kid: 'k2', createdAt: CREATED, retiredAt: undefined },
      published: [
        { kid: 'k2', createdAt: CREATED, retiredAt: undefined },
        { kid: 'k1', createdAt: { seconds: 1n, nanos: 0 }, retiredAt: CREATED },
      ],
    };
  };
  setProgramme: IdentityApi['setProgramme'] = async (req) => {
    this.record('setProgramme', req);
    return { programme: req.programme && { ...req.programme, updatedAt: CREATED } };
  };
  getProgramme: IdentityApi['getProgramme'] = async (req) => {
    this.record('getProgramme', req);
    return {
      programme: {
        tenancy: req.tenancy,
        pointValue: { currency: 'CNY', amountMinor: 1n },
        lotLifetimeDays: 365,
        refundWindowHours: 168,
        shortfallPolicy: ShortfallPolicy.SHORTFALL_POLICY_FORGIVE,
        expiryNoticeDays: 0,
        tiers: [],
        tierWindowDays: 30,
        updatedAt: CREATED,
      },
    };
  };
  setBudget: IdentityApi['setBudget'] = async (req) => {
    this.record('setBudget', req);
    return { budget: budget(req.tenancy?.operatorId ?? '', req.tenancy?.projectId ?? '', req.allotted) };
  };
  getBudget: IdentityApi['getBudget'] = async (req) => {
    this.record('getBudget', req);
    return { budget: budget(req.tenancy?.operatorId ?? '', req.tenancy?.projectId ?? '', 1000n) };
  };
  listBudgets: IdentityApi['listBudgets'] = async (req) => {
    this.record('listBudgets', req);
    const token = req.page?.pageToken ?? '';
    return token === ''
      ? { budgets: [budget('op-1', '', 600n)], page: { nextPageToken: 'b2' } }
      : { budgets: [budget('op-2', '', 100n)], page: { nextPageToken: '' } };
  };
  setEarningRule: IdentityApi['setEarningRule'] = async (req) => {
    this.record('setEarningRule', req);
    return { rule: req.rule && { ...req.rule, ruleId: 'rule-1', updatedAt: CREATED } };
  };
  listEarningRules: IdentityApi['listEarningRules'] = async (req) => {
    this.record('listEarningRules', req);
    const rule = (ruleId: string, projectId: string, scenario: PaymentScenario) => ({
      ruleId,
      tenancy: { operatorId: req.tenancy?.operatorId ?? '', projectId, merchantId: '' },
      scenario,
      pointsPerYuan: 1,
      dailyCap: 0n,
      updatedAt: CREATED,
    });
    return (req.page?.pageToken ?? '') === ''
      ? { rules: [rule('rule-1', '', PaymentScenario.PAYMENT_SCENARIO_GOODS)], page: { nextPageToken: 'r2' } }
      : {
          rules: [rule('rule-2', 'p-1', PaymentScenario.PAYMENT_SCENARIO_PARKING)],
          page: { nextPageToken: '' },
        };
  };
  issuePoints: IdentityApi['issuePoints'] = async (req) => {
    this.record('issuePoints', req);
    return { lotId: 'lot-1', available: req.points + 7n };
  };
  private checkout(checkoutId: string): Checkout {
    const money = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });
    const parts = {
      total: money(10_000n),
      discount: money(1_000n),
      points: 2_000n,
      pointsValue: money(2_000n),
      money: money(7_000n),
    };
    return {
      checkoutId,
      status: CheckoutStatus.CHECKOUT_STATUS_AWAITING_PAYMENT,
      tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: 'm-1' },
      merchantId: 'm-1',
      scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
      userId: 'u-1',
      pointsHolderId: 'u-1',
      parts,
      paymentId: 'pay-1',
      payUrl: 'http://sandbox/pay/pay-1',
      couponId: 'c-1',
      couponRedemptionId: 'r-1',
      pointsReservationId: 'res-1',
      createdAt: undefined,
      expiresAt: undefined,
      completedAt: undefined,
      releaseReason: '',
      refunded: undefined,
      profitSharing: false,
      payerRef: 'u-1',
      description: '',
      itemCodes: [],
    };
  }
  createCheckout: IdentityApi['createCheckout'] = async (req) => {
    this.record('createCheckout', req);
    return { checkout: this.checkout('co-1') };
  };
  getCheckout: IdentityApi['getCheckout'] = async (req) => {
    this.record('getCheckout', req);
    return { checkout: this.checkout(req.checkoutId) };
  };
  cancelCheckout: IdentityApi['cancelCheckout'] = async (req) => {
    this.record('cancelCheckout', req);
    return { checkout: this.checkout(req.checkoutId) };
  };
  refundCheckout: IdentityApi['refundCheckout'] = async (req) => {
    this.record('refundCheckout', req);
    return { refund: undefined, checkout: this.checkout(req.checkoutId) };
  };
  getBalance: IdentityApi['getBalance'] = async (req) => {
    this.record('getBalance', req);
    return {
      holderId: req.holderId,
      available: 157n,
      reserved: 20n,
      pending: 30n,
      debt: 0n,
      tier: 'Gold',
      holderKind: HolderKind.HOLDER_KIND_USER,
      expiringSoon: 0n,
    };
  };
  createCampaign: IdentityApi['createCampaign'] = async (req) => {
    this.record('createCampaign', req);
    return {
      campaign: req.campaign && { ...req.campaign, campaignId: 'c-1', status: 1, createdAt: CREATED },
    };
  };
  updateCampaign: IdentityApi['updateCampaign'] = async (req) => {
    this.record('updateCampaign', req);
    return { campaign: { ...CAMPAIGN, campaignId: req.campaignId, status: req.status } };
  };
  getCampaign: IdentityApi['getCampaign'] = async (req) => {
    this.record('getCampaign', req);
    return { campaign: { ...CAMPAIGN, campaignId: req.campaignId } };
  };
  listCampaigns: IdentityApi['listCampaigns'] = async (req) => {
    this.record('listCampaigns', req);
    return { campaigns: [CAMPAIGN], page: { nextPageToken: '' } };
  };
  generateCodes: IdentityApi['generateCodes'] = async (req) => {
    this.record('generateCodes', req);
    return {
      batch: { ...BATCH, campaignId: req.campaignId, requested: req.count, generated: 0n, status: 1 },
    };
  };
  getCodeBatch: IdentityApi['getCodeBatch'] = async (req) => {
    this.record('getCodeBatch', req);
    return { batch: { ...BATCH, batchId: req.batchId } };
  };
  exportCodes: IdentityApi['exportCodes'] = async (req) => {
    this.record('exportCodes', req);
    return req.page?.pageToken === ''
      ? { codes: [{ code: '0123456789ABCDEF', couponId: '' }], page: { nextPageToken: 'e2' } }
      : { codes: [{ code: 'ZYXWVTSRQPNMKJHG', couponId: 'k-1' }], page: { nextPageToken: '' } };
  };
  listDatasets: IdentityApi['listDatasets'] = async (req) => {
    this.record('listDatasets', req);
    return { datasets: [], page: { nextPageToken: '' } };
  };
  classifyField: IdentityApi['classifyField'] = async (req) => {
    this.record('classifyField', req);
    return { dataset: undefined };
  };
  scanDataset: IdentityApi['scanDataset'] = async (req) => {
    this.record('scanDataset', req);
    return { dataset: undefined, rowsScanned: 0n };
  };
  issueGrant: IdentityApi['issueGrant'] = async (req) => {
    this.record('issueGrant', req);
    return { grant: undefined };
  };
  listGrants: IdentityApi['listGrants'] = async (req) => {
    this.record('listGrants', req);
    return { grants: [], page: { nextPageToken: '' } };
  };
  revokeGrant: IdentityApi['revokeGrant'] = async (req) => {
    this.record('revokeGrant', req);
    return { grant: undefined };
  };
  exportAccessLog: IdentityApi['exportAccessLog'] = async (req) => {
    this.record('exportAccessLog', req);
    return { exportJson: '{"format":"citybase-access-log/v1"}', entries: 0n };
  };
  private device(deviceId: string, status = DeviceStatus.DEVICE_STATUS_ACTIVE): Device {
    return {
      deviceId,
      tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: '' },
      kind: DeviceKind.DEVICE_KIND_METER,
      name: 'meter',
      serialNumber: 'sn-1',
      status,
      online: false,
      lastSeenAt: undefined,
      createdAt: CREATED,
      profile: 'meter',
      credentialsVersion: 1,
    };
  }
  private credentials(deviceId: string) {
    return {
      mqttUrl: 'mqtt://127.0.0.1:1885',
      username: deviceId,
      clientId: deviceId,
      password: 'pw-once',
      topicPrefix: `city/p-1/devices/${deviceId}`,
    };
  }
  registerDevice: IdentityApi['registerDevice'] = async (req) => {
    this.record('registerDevice', req);
    return { device: this.device('d-1'), credentials: this.credentials('d-1') };
  };
  getDevice: IdentityApi['getDevice'] = async (req) => {
    this.record('getDevice', req);
    return { device: this.device(req.deviceId) };
  };
  listDevices: IdentityApi['listDevices'] = async (req) => {
    this.record('listDevices', req);
    return { devices: [this.device('d-1')], page: { nextPageToken: '' } };
  };
  rotateDeviceCredentials: IdentityApi['rotateDeviceCredentials'] = async (req) => {
    this.record('rotateDeviceCredentials', req);
    return { device: this.device(req.deviceId), credentials: this.credentials(req.deviceId) };
  };
  revokeDevice: IdentityApi['revokeDevice'] = async (req) => {
    this.record('revokeDevice', req);
    return { device: this.device(req.deviceId, DeviceStatus.DEVICE_STATUS_REVOKED) };
  };
  private command(commandId: string, kind: CommandKind, state: CommandState): DeviceCommand {
    return {
      commandId,
      tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: '' },
      deviceId: 'd-1',
      kind,
      state,
      args: {},
      reference: '',
      detail: '',
      createdAt: CREATED,
      deadline: CREATED,
      sentAt: undefined,
      deliveredAt: undefined,
      completedAt: undefined,
      publishCount: 0,
    };
  }
  sendCommand: IdentityApi['sendCommand'] = async (req) => {
    this.record('sendCommand', req);
    return { command: this.command('c-1', req.kind, CommandState.COMMAND_STATE_QUEUED) };
  };
  getCommand: IdentityApi['getCommand'] = async (req) => {
    this.record('getCommand', req);
    return {
      command: this.command(
        req.commandId,
        CommandKind.COMMAND_KIND_GATE_OPEN,
        CommandState.COMMAND_STATE_SUCCEEDED,
      ),
    };
  };
  getParkingSession: IdentityApi['getParkingSession'] = async (req) => {
    this.record('getParkingSession', req);
    return {
      session: {
        sessionId: req.sessionId,
        lotId: 'lot-1',
        tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: '' },
        plate: '粤B30003',
        state: ParkingSessionState.PARKING_SESSION_STATE_AWAITING_PAYMENT,
        enteredAt: CREATED,
        exitRequestedAt: CREATED,
        fee: { currency: 'CNY', amountMinor: 1_000n },
        passApplied: false,
        paymentId: 'pay-1',
        gateCommandId: '',
        closedAt: undefined,
      },
    };
  };
  getChargingSession: IdentityApi['getChargingSession'] = async (req) => {
    this.record('getChargingSession', req);
    return { session: chargingSession(req.sessionId) };
  };
  payChargingSession: IdentityApi['payChargingSession'] = async (req) => {
    this.record('payChargingSession', req);
    return {
      session: {
        ...chargingSession(req.sessionId),
        checkoutId: 'co-1',
        paymentState: ChargingPaymentState.CHARGING_PAYMENT_STATE_OPEN,
      },
      payUrl: 'http://sandbox/pay/co-1',
    };
  };
  createLot: IdentityApi['createLot'] = async (req) => {
    this.record('createLot', req);
    return { lot: { lotId: 'lot-1', occupied: 0, createdAt: CREATED, ...req } };
  };
  getLot: IdentityApi['getLot'] = async (req) => {
    this.record('getLot', req);
    return { lot: parkingLot(req.lotId) };
  };
  setParkingTariff: IdentityApi['setParkingTariff'] = async (req) => {
    this.record('setParkingTariff', req);
    return { lot: { ...parkingLot(req.lotId), tariff: req.tariff } };
  };
  issuePass: IdentityApi['issuePass'] = async (req) => {
    this.record('issuePass', req);
    const { lotId, plate, residentId, validFrom, validUntil } = req;
    return { pass: { passId: 'pass-1', lotId, plate, residentId, validFrom, validUntil } };
  };
  configureCharger: IdentityApi['configureCharger'] = async (req) => {
    this.record('configureCharger', req);
    return {
      charger: { deviceId: req.deviceId, tenancy: req.tenancy, tariff: req.tariff, lastRegisterWh: 0n },
    };
  };
  getCharger: IdentityApi['getCharger'] = async (req) => {
    this.record('getCharger', req);
    return {
      charger: {
        deviceId: req.deviceId,
        tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: 'm-1' },
        tariff: { bands: [], serviceFeePerKwh: { currency: 'CNY', amountMinor: 50n } },
        lastRegisterWh: 123_456n,
      },
    };
  };
  bindDoor: IdentityApi['bindDoor'] = async (req) => {
    this.record('bindDoor', req);
    const { deviceId, tenancy, buildingId, unitId } = req;
    return { door: { deviceId, tenancy, buildingId, unitId } };
  };
  close(): void {
    this.closed = true;
  }
}

function parkingLot(lotId: string): ParkingLot {
  return {
    lotId,
    tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: 'm-1' },
    name: 'North lot',
    capacity: 40,
    entryCameraId: 'cam-in',
    exitCameraId: 'cam-out',
    exitGateId: 'gate-1',
    tariff: {
      freeMinutes: 15,
      hourlyRate: { currency: 'CNY', amountMinor: 500n },
      dailyCap: { currency: 'CNY', amountMinor: 3_000n },
    },
    occupied: 3,
    createdAt: CREATED,
  };
}

function chargingSession(sessionId: string): ChargingSession {
  return {
    sessionId,
    deviceId: 'd-1',
    tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: '' },
    transactionId: 'tx-1',
    userId: 'u-1',
    state: ChargingSessionState.CHARGING_SESSION_STATE_STOPPED,
    lastSeq: 4,
    firstRegisterWh: 1_000_000n,
    lastRegisterWh: 1_010_000n,
    energyWh: 10_000n,
    energyCost: { currency: 'CNY', amountMinor: 1_000n },
    serviceFee: { currency: 'CNY', amountMinor: 500n },
    total: { currency: 'CNY', amountMinor: 1_500n },
    paymentId: 'pay-2',
    startedAt: CREATED,
    stoppedAt: CREATED,
    fault: '',
    checkoutId: '',
    paymentState: ChargingPaymentState.CHARGING_PAYMENT_STATE_PAID,
  };
}

const CAMPAIGN: Campaign = {
  campaignId: 'c-1',
  tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' },
  name: 'Coffee',
  status: 2,
  discount: { kind: { $case: 'amountOff', value: { currency: 'CNY', amountMinor: 500n } } },
  funding: 2,
  targeting: { projectIds: [], merchantIds: [], scenarios: [], tiers: [] },
  stacking: { exclusive: false, group: '', priority: 0 },
  claimFrom: CREATED,
  claimUntil: CREATED,
  couponValidDays: 7,
  useUntil: undefined,
  maxCoupons: 100n,
  maxSpend: undefined,
  perUserLimit: 1,
  perHouseholdLimit: 0,
  perUserDailyLimit: 0,
  flashSale: true,
  genericCode: '',
  claimed: 3n,
  redeemed: 1n,
  claimedValue: { currency: 'CNY', amountMinor: 1500n },
  redeemedDiscount: { currency: 'CNY', amountMinor: 500n },
  createdAt: CREATED,
  updatedAt: CREATED,
};

const BATCH: CodeBatch = {
  batchId: 'b-1',
  campaignId: 'c-1',
  status: 2,
  requested: 2n,
  generated: 2n,
  createdAt: CREATED,
  finishedAt: CREATED,
};

function budget(operatorId: string, projectId: string, allotted: bigint): Budget {
  return {
    level:
      operatorId === ''
        ? BudgetLevel.BUDGET_LEVEL_CITY
        : projectId === ''
          ? BudgetLevel.BUDGET_LEVEL_OPERATOR
          : BudgetLevel.BUDGET_LEVEL_PROJECT,
    tenancy: { operatorId, projectId, merchantId: '' },
    period: '2026-12',
    allotted,
    allottedToChildren: 0n,
    issued: 10n,
    unallotted: allotted - 10n,
    subtreeIssued: 10n,
    subtreeRedeemed: 2n,
    subtreeExpired: 1n,
    updatedAt: CREATED,
  };
}

interface Harness {
  api: FakeApi;
  out: string[];
  err: string[];
  connects: { endpoints: Endpoints; credentials: ClientCredentials }[];
  run(...argv: string[]): Promise<number>;
  json(): Record<string, unknown>;
}

const ENV = { CITYBASE_CLIENT_ID: 'cb_env', CITYBASE_CLIENT_SECRET: 'env-secret' };

function harness(env: Record<string, string | undefined> = ENV): Harness {
  const h: Harness = {
    api: new FakeApi(),
    out: [],
    err: [],
    connects: [],
    run: (...argv) => cli(argv, io, deps),
    json: () => JSON.parse(h.out.join('')) as Record<string, unknown>,
  };
  let n = 0;
  const io: Io = { out: (t) => h.out.push(t), err: (t) => h.err.push(t), env };
  const deps: RunDeps = {
    io,
    connect: async (endpoints, credentials) => {
      h.connects.push({ endpoints, credentials });
      return h.api;
    },
    newRequestId: () => `generated-${++n}`,
  };
  return h;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'citybase-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('credentials and endpoints', () => {
  it('uses CITYBASE_CLIENT_ID/SECRET and the default endpoints', async () => {
    const h = harness();
    expect(await h.run('operator', 'list')).toBe(0);
    expect(h.connects).toEqual([
      {
        endpoints: {
          httpUrl: 'http://127.0.0.1:8081',
          grpcAddress: '127.0.0.1:50051',
          pointsGrpcAddress: '127.0.0.1:50054',
          marketingGrpcAddress: '127.0.0.1:50055',
          dataGrpcAddress: '127.0.0.1:50057',
          paymentGrpcAddress: '127.0.0.1:50052',
          iotGrpcAddress: '127.0.0.1:50056',
        },
        credentials: { client_id: 'cb_env', client_secret: 'env-secret' },
      },
    ]);
    expect(h.api.closed).toBe(true);
  });

  it('--credentials wins over the environment; endpoints from the environment', async () => {
    const file = join(dir, 'admin.json');
    writeFileSync(file, JSON.stringify({ client_id: 'cb_file', client_secret: 'file-secret' }));
    const h = harness({
      ...ENV,
      CITYBASE_IDENTITY_URL: 'http://identity:9000/',
      CITYBASE_IDENTITY_GRPC: 'identity:6000',
      CITYBASE_POINTS_GRPC: 'points:6004',
      CITYBASE_MARKETING_GRPC: 'marketing:6005',
      CITYBASE_PAYMENT_GRPC: 'payment:6002',
    });
    expect(await h.run('operator', 'list', '--credentials', file)).toBe(0);
    expect(h.connects[0]).toEqual({
      endpoints: {
        httpUrl: 'http://identity:9000',
        grpcAddress: 'identity:6000',
        pointsGrpcAddress: 'points:6004',
        marketingGrpcAddress: 'marketing:6005',
        dataGrpcAddress: '127.0.0.1:50057',
        paymentGrpcAddress: 'payment:6002',
        iotGrpcAddress: '127.0.0.1:50056',
      },
      credentials: { client_id: 'cb_file', client_secret: 'file-secret' },
    });
  });

  it.each([
    [{}, 2, /no credentials: give --credentials <file> or set CITYBASE_CLIENT_ID and CITYBASE_CLIENT_SECRET/],
    [{ CITYBASE_CLIENT_ID: 'x' }, 2, /CITYBASE_CLIENT_ID is set but CITYBASE_CLIENT_SECRET is not/],
    [{ CITYBASE_CLIENT_SECRET: 'x' }, 2, /CITYBASE_CLIENT_SECRET is set but CITYBASE_CLIENT_ID is not/],
    [{ ...ENV, CITYBASE_IDENTITY_URL: 'ftp://x' }, 1, /CITYBASE_IDENTITY_URL must be an http\(s\) URL/],
  ])('env %j -> exit %d', async (env, code, message) => {
    const h = harness(env);
    expect(await h.run('client', 'list')).toBe(code);
    expect(h.err.join('')).toMatch(message);
    expect(h.connects).toEqual([]);
    expect(h.out).toEqual([]);
  });

  it('an unreadable or malformed credentials file fails with exit 1', async () => {
    const h = harness();
    expect(await h.run('operator', 'list', '--credentials', join(dir, 'missing.json'))).toBe(1);
    expect(h.err.join('')).toMatch(/cannot read credentials file .*missing\.json: ENOENT/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ client_id: 'x' }));
    expect(await h.run('operator', 'list', '--credentials', bad)).toBe(1);
    expect(h.err.join('')).toMatch(/must hold a JSON object with client_id and client_secret/);
    writeFileSync(bad, 'not json');
    expect(await h.run('operator', 'list', '--credentials', bad)).toBe(1);
    expect(h.err.join('')).toMatch(/is not JSON/);
    expect(h.connects).toEqual([]);
  });
});

describe('requests and output', () => {
  it('operator create sends a fresh request id each time, or --request-id', async () => {
    const h = harness();
    expect(await h.run('operator', 'create', '--name', 'Sunshine')).toBe(0);
    expect(await h.run('operator', 'create', '--name', 'Sunshine')).toBe(0);
    expect(await h.run('operator', 'create', '--name', 'Sunshine', '--request-id', 'retry-7')).toBe(0);
    expect(h.api.calls).toEqual([
      { method: 'createOperator', req: { requestId: 'generated-1', name: 'Sunshine' } },
      { method: 'createOperator', req: { requestId: 'generated-2', name: 'Sunshine' } },
      { method: 'createOperator', req: { requestId: 'retry-7', name: 'Sunshine' } },
    ]);
    expect(JSON.parse(h.out[0])).toEqual({
      request_id: 'generated-1',
      operator: { operator_id: 'op-1', name: 'Sunshine', created_at: '2026-01-02T03:04:05Z' },
    });
    expect(h.out).toHaveLength(3);
    expect(h.err).toEqual([]);
  });

  it('the default request id is a UUID', async () => {
    const out: string[] = [];
    const api = new FakeApi();
    const io: Io = { out: (t) => out.push(t), err: () => undefined, env: ENV };
    const { defaultDeps } = await import('./run');
    const deps = { ...defaultDeps(io), connect: async () => api };
    expect(await cli(['keys', 'rotate'], io, deps)).toBe(0);
    expect((api.calls[0].req as { requestId: string }).requestId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('operator list follows the page tokens', async () => {
    const h = harness();
    expect(await h.run('operator', 'list')).toBe(0);
    expect(h.api.calls.map((c) => c.req)).toEqual([
      { page: { pageSize: 0, pageToken: '' } },
      { page: { pageSize: 0, pageToken: 'p2' } },
    ]);
    expect(h.json()).toEqual({
      operators: [
        { operator_id: 'op-1', name: 'A', created_at: '2026-01-02T03:04:05Z' },
        { operator_id: 'op-2', name: 'B', created_at: '2026-01-02T03:04:05Z' },
      ],
    });
  });

  it('a server repeating its page token is stopped', async () => {
    const h = harness();
    h.api.listClients = async () => ({ clients: [], page: { nextPageToken: 'same' } });
    expect(await h.run('client', 'list')).toBe(1);
    expect(h.err.join('')).toMatch(/same page token twice/);
  });

  it('project create / list', async () => {
    const h = harness();
    expect(
      await h.run('project', 'create', '--operator', 'op-1', '--name', 'Elm Court', '--kind', 'residential'),
    ).toBe(0);
    expect(h.api.calls[0]).toEqual({
      method: 'createProject',
      req: {
        requestId: 'generated-1',
        operatorId: 'op-1',
        name: 'Elm Court',
        kind: ProjectKind.PROJECT_KIND_RESIDENTIAL,
      },
    });
    expect(h.json()).toEqual({
      request_id: 'generated-1',
      project: {
        project_id: 'p-1',
        operator_id: 'op-1',
        name: 'Elm Court',
        kind: 'RESIDENTIAL',
        created_at: '2026-01-02T03:04:05Z',
      },
    });
    h.out.length = 0;
    expect(await h.run('project', 'list', '--operator', 'op-1')).toBe(0);
    expect(h.api.calls[1]).toEqual({
      method: 'listProjects',
      req: { operatorId: 'op-1', page: { pageSize: 0, pageToken: '' } },
    });
    expect(h.json()).toMatchObject({ projects: [{ project_id: 'p-1', kind: 'SCHOOL' }] });
  });

  it('client create prints the secret once with a warning', async () => {
    const h = harness();
    const code = await h.run(
      'client',
      'create',
      '--name',
      'Park app',
      '--scope',
      'a:read,b:write',
      '--operator',
      'op-1',
      '--project',
      'p-9',
    );
    expect(code).toBe(0);
    expect(h.api.calls[0]).toEqual({
      method: 'createClient',
      req: {
        requestId: 'generated-1',
        name: 'Park app',
        scopes: ['a:read', 'b:write'],
        tenancy: { operatorIds: ['op-1'], projectIds: ['p-9'] },
      },
    });
    expect(h.json()).toEqual({
      request_id: 'generated-1',
      client: {
        client_id: 'cb_new',
        name: 'Park app',
        scopes: ['a:read', 'b:write'],
        tenancy: { operator_ids: ['op-1'], project_ids: ['p-9'] },
        status: 'ACTIVE',
        created_at: '2026-01-02T03:04:05Z',
        secret_rotated_at: null,
        revoked_at: null,
        created_by_client_id: 'cb_admin',
      },
      client_secret: 's3cret',
    });
    expect(h.err.join('')).toMatch(/shown only this time/);
  });

  it('client create --save writes a 0600 file that --credentials reads', async () => {
    const h = harness();
    const file = join(dir, 'app.json');
    expect(await h.run('client', 'create', '--name', 'n', '--scope', 's', '--save', file)).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ client_id: 'cb_new', client_secret: 's3cret' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(h.json()).toMatchObject({ saved_to: file, client_secret: 's3cret' });
    expect(await h.run('operator', 'list', '--credentials', file)).toBe(0);
    expect(h.connects[1].credentials).toEqual({ client_id: 'cb_new', client_secret: 's3cret' });
  });

  it('--save refuses an existing file before calling identity', async () => {
    const h = harness();
    const file = join(dir, 'exists.json');
    writeFileSync(file, 'keep me');
    expect(await h.run('client', 'create', '--name', 'n', '--scope', 's', '--save', file)).toBe(1);
    expect(h.err.join('')).toMatch(/refusing to overwrite existing file .*exists\.json/);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    expect(h.connects).toEqual([]);
    expect(h.api.calls).toEqual([]);
    expect(
      await h.run(
        'client',
        'create',
        '--name',
        'n',
        '--scope',
        's',
        '--save',
        join(dir, 'no', 'such', 'f.json'),
      ),
    ).toBe(1);
    expect(h.err.join('')).toMatch(/folder .* does not exist/);
    expect(h.api.calls).toEqual([]);
  });

  it('an idempotent replay has no secret: says so, and --save fails', async () => {
    const h = harness();
    h.api.createClient = async () => ({ client: apiClient('cb_new'), clientSecret: '' });
    expect(await h.run('client', 'create', '--name', 'n', '--scope', 's', '--request-id', 'r1')).toBe(0);
    expect(h.json()).toMatchObject({ request_id: 'r1', client_secret: null });
    expect(h.err.join('')).toMatch(
      /no secret in the answer: request_id r1 was already carried out.*'citybase client rotate-secret --id cb_new' makes a new one\n/,
    );
    h.out.length = 0;
    const file = join(dir, 'replay.json');
    expect(
      await h.run('client', 'create', '--name', 'n', '--scope', 's', '--request-id', 'r1', '--save', file),
    ).toBe(1);
    expect(h.err.join('')).toMatch(/nothing was saved to/);
    expect(() => statSync(file)).toThrow();
  });

  it('client rotate-secret, revoke, list and keys rotate', async () => {
    const h = harness();
    const file = join(dir, 'rotated.json');
    expect(await h.run('client', 'rotate-secret', '--id', 'cb_x', '--save', file)).toBe(0);
    expect(h.json()).toMatchObject({
      request_id: 'generated-1',
      client: { client_id: 'cb_x', secret_rotated_at: '2026-01-02T03:04:05Z' },
      client_secret: 'rotated',
    });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ client_id: 'cb_x', client_secret: 'rotated' });
    h.out.length = 0;
    expect(await h.run('client', 'revoke', '--id', 'cb_x', '--reason', 'leaked')).toBe(0);
    expect(h.json()).toMatchObject({ request_id: 'generated-2', client: { status: 'REVOKED' } });
    expect(h.json()).not.toHaveProperty('client_secret');
    h.out.length = 0;
    expect(await h.run('client', 'list')).toBe(0);
    expect(h.json()).toMatchObject({ clients: [{ client_id: 'cb_admin', created_by_client_id: '' }] });
    h.out.length = 0;
    expect(await h.run('keys', 'rotate')).toBe(0);
    expect(h.json()).toEqual({
      request_id: 'generated-3',
      key: { kid: 'k2', created_at: '2026-01-02T03:04:05Z', retired_at: null },
      published: [
        { kid: 'k2', created_at: '2026-01-02T03:04:05Z', retired_at: null },
        { kid: 'k1', created_at: '1970-01-01T00:00:01Z', retired_at: '2026-01-02T03:04:05Z' },
      ],
    });
    expect(h.api.calls.map((c) => [c.method, c.req])).toEqual([
      ['rotateClientSecret', { requestId: 'generated-1', clientId: 'cb_x' }],
      ['revokeClient', { requestId: 'generated-2', clientId: 'cb_x', reason: 'leaked' }],
      ['listClients', { page: { pageSize: 0, pageToken: '' } }],
      ['rotateSigningKey', { requestId: 'generated-3' }],
    ]);
  });
});

describe('campaign', () => {
  it('campaign create builds the campaign from the options; activate, pause, end move it', async () => {
    const h = harness();
    const create = [
      'campaign',
      'create',
      '--operator',
      'op-1',
      '--name',
      'Coffee',
      '--amount-off',
      '500',
      '--funding',
      'operator',
      '--claim-from',
      '2026-12-06T00:00:00Z',
      '--claim-until',
      '2026-12-31T00:00:00Z',
      '--valid-days',
      '7',
      '--max-coupons',
      '100',
      '--per-user',
      '1',
      '--flash-sale',
      'yes',
      '--target-tier',
      'Gold,Silver',
    ];
    expect(await h.run(...create)).toBe(0);
    expect(h.json()).toMatchObject({
      request_id: 'generated-1',
      campaign: {
        campaign_id: 'c-1',
        status: 'DRAFT',
        discount: { amount_off: { currency: 'CNY', amount_minor: '500' } },
      },
    });
    const sent = h.api.calls[0]?.req as { campaign: Campaign };
    expect(sent.campaign).toMatchObject({
      tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' },
      funding: 2,
      maxCoupons: 100n,
      perUserLimit: 1,
      flashSale: true,
      couponValidDays: 7,
      claimFrom: { seconds: BigInt(Date.parse('2026-12-06T00:00:00Z') / 1000), nanos: 0 },
      targeting: { tiers: ['Gold', 'Silver'] },
    });
    for (const [verb, status] of [
      ['activate', 2],
      ['pause', 3],
      ['end', 4],
    ] as const) {
      h.out.length = 0;
      expect(
        await h.run('campaign', verb, '--operator', 'op-1', '--id', 'c-1', '--request-id', `r-${verb}`),
      ).toBe(0);
      expect(h.json()).toMatchObject({ request_id: `r-${verb}`, campaign: { campaign_id: 'c-1' } });
      expect(h.api.calls.at(-1)).toEqual({
        method: 'updateCampaign',
        req: {
          requestId: `r-${verb}`,
          tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' },
          campaignId: 'c-1',
          status,
          maxCoupons: 0n,
          maxSpend: undefined,
          claimUntil: undefined,
        },
      });
    }
    // one discount, exactly
    expect(await h.run(...create, '--percent-off', '1000')).toBe(2);
  });

  it('campaign get / list / codes (generate, progress, export every page)', async () => {
    const h = harness();
    expect(await h.run('campaign', 'get', '--operator', 'op-1', '--id', 'c-1')).toBe(0);
    expect(h.json()).toMatchObject({ campaign: { campaign_id: 'c-1', claimed: '3', flash_sale: true } });
    h.out.length = 0;
    expect(await h.run('campaign', 'list', '--operator', 'op-1', '--status', 'active')).toBe(0);
    expect(h.json()).toMatchObject({ campaigns: [{ campaign_id: 'c-1', status: 'ACTIVE' }] });
    h.out.length = 0;
    expect(await h.run('campaign', 'codes', '--operator', 'op-1', '--id', 'c-1', '--count', '2')).toBe(0);
    expect(h.json()).toMatchObject({
      request_id: 'generated-1',
      batch: { status: 'RUNNING', requested: '2' },
    });
    h.out.length = 0;
    expect(await h.run('campaign', 'codes', '--operator', 'op-1', '--batch', 'b-1', '--export', 'yes')).toBe(
      0,
    );
    expect(h.json()).toMatchObject({
      batch: { batch_id: 'b-1', status: 'DONE' },
      codes: [
        { code: '0123456789ABCDEF', coupon_id: null },
        { code: 'ZYXWVTSRQPNMKJHG', coupon_id: 'k-1' },
      ],
    });
    expect(h.api.calls.map((c) => c.method)).toEqual([
      'getCampaign',
      'listCampaigns',
      'generateCodes',
      'getCodeBatch',
      'exportCodes',
      'exportCodes',
    ]);
    expect(await h.run('campaign', 'codes', '--operator', 'op-1', '--batch', 'b-1', '--count', '2')).toBe(2);
  });
});

describe('points', () => {
  it('points budget set / get / list name the node by --operator and --project', async () => {
    const h = harness();
    expect(await h.run('points', 'budget', 'set', '--period', '2026-12', '--allotted', '1000')).toBe(0);
    expect(h.json()).toEqual({
      request_id: 'generated-1',
      budget: {
        level: 'CITY',
        operator_id: '',
        project_id: '',
        period: '2026-12',
        allotted: '1000',
        allotted_to_children: '0',
        issued: '10',
        unallotted: '990',
        subtree_issued: '10',
        subtree_redeemed: '2',
        subtree_expired: '1',
        updated_at: '2026-01-02T03:04:05Z',
      },
    });
    h.out.length = 0;
    const args = ['--period', '2026-12', '--operator', 'op-1', '--project', 'p-1'];
    expect(await h.run('points', 'budget', 'set', ...args, '--allotted', '400', '--request-id', 'r-9')).toBe(
      0,
    );
    expect(h.json()).toMatchObject({ request_id: 'r-9', budget: { level: 'PROJECT', allotted: '400' } });
    h.out.length = 0;
    expect(await h.run('points', 'budget', 'get', ...args)).toBe(0);
    expect(h.json()).toMatchObject({ budget: { level: 'PROJECT', project_id: 'p-1' } });
    h.out.length = 0;
    expect(await h.run('points', 'budget', 'list', '--period', '2026-12')).toBe(0);
    expect(h.json()).toMatchObject({ budgets: [{ operator_id: 'op-1' }, { operator_id: 'op-2' }] });
    const node = (operatorId: string, projectId: string) => ({ operatorId, projectId, merchantId: '' });
    expect(h.api.calls.map((c) => [c.method, c.req])).toEqual([
      ['setBudget', { requestId: 'generated-1', tenancy: node('', ''), period: '2026-12', allotted: 1000n }],
      ['setBudget', { requestId: 'r-9', tenancy: node('op-1', 'p-1'), period: '2026-12', allotted: 400n }],
      ['getBudget', { tenancy: node('op-1', 'p-1'), period: '2026-12' }],
      ['listBudgets', { tenancy: node('', ''), period: '2026-12', page: { pageSize: 0, pageToken: '' } }],
      ['listBudgets', { tenancy: node('', ''), period: '2026-12', page: { pageSize: 0, pageToken: 'b2' } }],
    ]);
  });

  it('points programme set / get', async () => {
    const h = harness();
    expect(
      await h.run(
        'points',
        'programme',
        'set',
        '--operator',
        'op-1',
        '--point-value',
        '1',
        '--lot-lifetime-days',
        '365',
        '--refund-window-hours',
        '168',
        '--shortfall-policy',
        'DEBT',
        '--tier',
        'Bronze:0:1000',
        '--tier',
        'Gold Plus:5000:1500',
        '--tier-window-days',
        '365',
      ),
    ).toBe(0);
    expect(h.api.calls[0]).toEqual({
      method: 'setProgramme',
      req: {
        requestId: 'generated-1',
        programme: {
          tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' },
          pointValue: { currency: 'CNY', amountMinor: 1n },
          lotLifetimeDays: 365,
          refundWindowHours: 168,
          shortfallPolicy: ShortfallPolicy.SHORTFALL_POLICY_DEBT,
          expiryNoticeDays: 0,
          tiers: [
            { name: 'Bronze', threshold: 0n, multiplierPermille: 1000 },
            { name: 'Gold Plus', threshold: 5000n, multiplierPermille: 1500 },
          ],
          tierWindowDays: 365,
          updatedAt: undefined,
        },
      },
    });
    expect(h.json()).toMatchObject({
      request_id: 'generated-1',
      programme: {
        operator_id: 'op-1',
        point_value: { currency: 'CNY', amount_minor: '1' },
        shortfall_policy: 'DEBT',
        tiers: [
          { name: 'Bronze', threshold: '0', multiplier_permille: 1000 },
          { name: 'Gold Plus', threshold: '5000', multiplier_permille: 1500 },
        ],
      },
    });
    h.out.length = 0;
    expect(await h.run('points', 'programme', 'get', '--operator', 'op-1')).toBe(0);
    expect(h.json()).toMatchObject({
      programme: { operator_id: 'op-1', shortfall_policy: 'FORGIVE', tiers: [] },
    });
  });

  it('points rule set / list, issue, balance', async () => {
    const h = harness();
    const op = { operatorId: 'op-1', projectId: '', merchantId: '' };
    expect(
      await h.run(
        'points',
        'rule',
        'set',
        '--operator',
        'op-1',
        '--scenario',
        'goods',
        '--points-per-yuan',
        '3',
        '--daily-cap',
        '1000',
      ),
    ).toBe(0);
    expect(h.json()).toEqual({
      request_id: 'generated-1',
      rule: {
        rule_id: 'rule-1',
        operator_id: 'op-1',
        project_id: '',
        scenario: 'GOODS',
        points_per_yuan: 3,
        daily_cap: '1000',
        updated_at: '2026-01-02T03:04:05Z',
      },
    });
    h.out.length = 0;
    expect(await h.run('points', 'rule', 'list', '--operator', 'op-1')).toBe(0);
    expect(h.json()).toMatchObject({
      rules: [
        { rule_id: 'rule-1', project_id: '', scenario: 'GOODS' },
        { rule_id: 'rule-2', project_id: 'p-1', scenario: 'PARKING' },
      ],
    });
    h.out.length = 0;
    expect(
      await h.run(
        'points',
        'issue',
        '--operator',
        'op-1',
        '--project',
        'p-1',
        '--holder',
        'u-1',
        '--points',
        '150',
        '--reason',
        'GOODWILL',
        '--request-id',
        'iss-1',
      ),
    ).toBe(0);
    expect(h.json()).toEqual({ request_id: 'iss-1', lot_id: 'lot-1', available: '157' });
    h.out.length = 0;
    expect(await h.run('points', 'balance', '--operator', 'op-1', '--holder', 'u-1')).toBe(0);
    expect(h.json()).toEqual({
      balance: {
        holder_id: 'u-1',
        holder_kind: 'USER',
        available: '157',
        reserved: '20',
        pending: '30',
        debt: '0',
        tier: 'Gold',
        expiring_soon: '0',
      },
    });
    expect(h.api.calls.map((c) => [c.method, c.req])).toEqual([
      [
        'setEarningRule',
        {
          requestId: 'generated-1',
          rule: {
            ruleId: '',
            tenancy: op,
            scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
            pointsPerYuan: 3,
            dailyCap: 1000n,
            updatedAt: undefined,
          },
        },
      ],
      ['listEarningRules', { tenancy: op, page: { pageSize: 0, pageToken: '' } }],
      ['listEarningRules', { tenancy: op, page: { pageSize: 0, pageToken: 'r2' } }],
      [
        'issuePoints',
        {
          requestId: 'iss-1',
          tenancy: { ...op, projectId: 'p-1' },
          holderId: 'u-1',
          points: 150n,
          reason: 'GOODWILL',
          expiresAt: undefined,
        },
      ],
      ['getBalance', { tenancy: op, holderId: 'u-1' }],
    ]);
  });

  it.each([
    [
      ['points', 'rule', 'set', '--operator', 'o', '--scenario', 'mall', '--points-per-yuan', '1'],
      /--scenario must be one of property_fee, parking, ev_charging, goods, services, group_buy/,
    ],
    [
      ['points', 'rule', 'set', '--operator', 'o', '--scenario', 'goods', '--points-per-yuan', '1.5'],
      /--points-per-yuan must be a non-negative integer/,
    ],
    [
      [
        'points',
        'issue',
        '--operator',
        'o',
        '--holder',
        'u',
        '--points',
        '5',
        '--reason',
        'X',
        '--expires-at',
        'tomorrow',
      ],
      /--expires-at must be an RFC 3339 time/,
    ],
    [
      ['points', 'issue', '--operator', 'o', '--holder', 'u', '--points', '5'],
      /missing required option --reason/,
    ],
    [['points', 'balance', '--operator', 'o'], /missing required option --holder/],
    [['points', 'rule'], /'points rule' needs a subcommand: set, list/],
    [['points', 'budget', 'set', '--period', '2026-12', '--allotted', '-5'], /--allotted needs a value/],
    [
      ['points', 'budget', 'set', '--period', '2026-12', '--allotted', 'x'],
      /--allotted must be a non-negative integer/,
    ],
    [['points', 'budget', 'get', '--period', '2026-12', '--project', 'p-1'], /--project needs --operator/],
    [['points', 'budget', 'list'], /missing required option --period/],
    [['points', 'programme', 'get'], /missing required option --operator/],
    [['points', 'budget'], /'points budget' needs a subcommand: set, get, list/],
  ])('%j is a usage error', async (argv, message) => {
    const h = harness();
    expect(await h.run(...argv)).toBe(2);
    expect(h.err.join('')).toMatch(message);
    expect(h.connects).toEqual([]);
  });
});

describe('failures', () => {
  it('a gRPC error is one stderr line with the status name, exit 1, nothing on stdout', async () => {
    const h = harness();
    h.api.createOperator = async () => {
      throw serviceError(status.PERMISSION_DENIED, 'the token lacks scope identity:tenancy.write');
    };
    expect(await h.run('operator', 'create', '--name', 'x')).toBe(1);
    expect(h.err).toEqual(['citybase: PERMISSION_DENIED: the token lacks scope identity:tenancy.write\n']);
    expect(h.out).toEqual([]);
    expect(h.api.closed).toBe(true);
  });

  it('a multi-line message stays on one line', async () => {
    const h = harness();
    h.api.listOperators = async () => {
      throw serviceError(status.INVALID_ARGUMENT, 'page.page_token: malformed\nsecond line');
    };
    expect(await h.run('operator', 'list')).toBe(1);
    expect(h.err).toEqual(['citybase: INVALID_ARGUMENT: page.page_token: malformed second line\n']);
  });

  it('an unknown outcome of a mutating call names the request id to retry with', async () => {
    const h = harness();
    h.api.createProject = async () => {
      throw serviceError(status.UNAVAILABLE, 'No connection established');
    };
    expect(await h.run('project', 'create', '--operator', 'o', '--name', 'n', '--kind', 'farm')).toBe(1);
    expect(h.err).toEqual([
      'citybase: UNAVAILABLE: No connection established (the outcome is unknown; retry safely with --request-id generated-1)\n',
    ]);
  });

  it('a definite refusal of a mutating call does not suggest a retry', async () => {
    const h = harness();
    h.api.createProject = async () => {
      throw serviceError(status.NOT_FOUND, 'operator o not found');
    };
    expect(await h.run('project', 'create', '--operator', 'o', '--name', 'n', '--kind', 'farm')).toBe(1);
    expect(h.err).toEqual(['citybase: NOT_FOUND: operator o not found\n']);
  });

  it('a failed sign-in is exit 1 with the reason', async () => {
    const h = harness();
    const io: Io = { out: (t) => h.out.push(t), err: (t) => h.err.push(t), env: ENV };
    const code = await cli(['operator', 'list'], io, {
      io,
      newRequestId: () => 'x',
      connect: async () => {
        const { CliError } = await import('./errors');
        throw new CliError(
          'token request refused (HTTP 401 from http://x/oauth/token): invalid_client: bad secret',
        );
      },
    });
    expect(code).toBe(1);
    expect(h.err).toEqual([
      'citybase: token request refused (HTTP 401 from http://x/oauth/token): invalid_client: bad secret\n',
    ]);
  });

  it('usage errors exit 2 before anything is called', async () => {
    const h = harness();
    expect(await h.run('project', 'create', '--operator', 'o', '--name', 'n', '--kind', 'mall')).toBe(2);
    expect(await h.run('client', 'revoke', '--id', 'x')).toBe(2);
    expect(h.connects).toEqual([]);
    expect(h.err).toHaveLength(2);
    expect(h.out).toEqual([]);
  });

  it('help goes to stdout with exit 0', async () => {
    const h = harness();
    expect(await h.run('client', 'revoke', '--help')).toBe(0);
    expect(h.out.join('')).toMatch(/^usage: citybase client revoke --id <client-id> --reason <text>/);
    expect(h.err).toEqual([]);
  });

  it('device register prints the credentials once; rotate and revoke send the request id; get and list', async () => {
    const h = harness(ENV);
    expect(
      await h.run(
        'device',
        'register',
        '--operator',
        'op-1',
        '--project',
        'p-1',
        '--kind',
        'meter',
        '--name',
        'm',
        '--serial',
        'sn-1',
      ),
    ).toBe(0);
    expect(h.api.calls[0]).toMatchObject({
      method: 'registerDevice',
      req: {
        tenancy: { operatorId: 'op-1', projectId: 'p-1' },
        kind: DeviceKind.DEVICE_KIND_METER,
        serialNumber: 'sn-1',
      },
    });
    expect(h.out.join('')).toContain('"password": "pw-once"');
    expect(h.out.join('')).toContain('"kind": "meter"');
    expect(await h.run('device', 'revoke', '--id', 'd-1', '--reason', 'stolen')).toBe(0);
    expect(h.out.join('')).toContain('"status": "revoked"');
    expect(await h.run('device', 'list', '--operator', 'op-1')).toBe(0);
    expect(
      await h.run(
        'device',
        'register',
        '--operator',
        'op-1',
        '--project',
        'p-1',
        '--kind',
        'toaster',
        '--name',
        'm',
        '--serial',
        's',
      ),
    ).not.toBe(0);
  });

  it('device command send names the kind and the TTL and sends the request id; get prints the state by name', async () => {
    const h = harness(ENV);
    expect(
      await h.run(
        'device',
        'command',
        'send',
        '--operator',
        'op-1',
        '--project',
        'p-1',
        '--device',
        'd-1',
        '--kind',
        'gate_open',
        '--ttl',
        '20',
        '--request-id',
        'r-gate-1',
      ),
    ).toBe(0);
    expect(h.api.calls[0]).toEqual({
      method: 'sendCommand',
      req: {
        requestId: 'r-gate-1',
        tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: '' },
        deviceId: 'd-1',
        kind: CommandKind.COMMAND_KIND_GATE_OPEN,
        args: {},
        reference: '',
        ttlSeconds: 20,
      },
    });
    expect(h.out.join('')).toContain('"state": "queued"');
    expect(h.out.join('')).toContain('"kind": "gate_open"');
    expect(await h.run('device', 'command', 'get', '--operator', 'op-1', '--id', 'c-9')).toBe(0);
    expect(h.api.calls[1]).toEqual({
      method: 'getCommand',
      req: { tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' }, commandId: 'c-9' },
    });
    expect(h.out.join('')).toContain('"state": "succeeded"');
    const calls = h.api.calls.length;
    expect(
      await h.run(
        'device',
        'command',
        'send',
        '--operator',
        'op-1',
        '--project',
        'p-1',
        '--device',
        'd-1',
        '--kind',
        'launch',
      ),
    ).toBe(2);
    expect(h.err.join('')).toContain(
      "--kind must be a command kind such as gate_open or door_open (got 'launch')",
    );
    expect(h.api.calls.length).toBe(calls);
  });

  it('parking session get and charging session get print state by name and money in minor units', async () => {
    const h = harness(ENV);
    expect(await h.run('parking', 'session', 'get', '--operator', 'op-1', '--id', 's-1')).toBe(0);
    expect(h.api.calls[0]).toEqual({
      method: 'getParkingSession',
      req: { tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' }, sessionId: 's-1' },
    });
    expect(h.json()).toMatchObject({
      session: {
        state: 'awaiting_payment',
        fee: { currency: 'CNY', amount_minor: '1000' },
        payment_id: 'pay-1',
      },
    });
    h.out.length = 0;
    expect(await h.run('charging', 'session', 'get', '--operator', 'op-1', '--id', 's-2')).toBe(0);
    expect(h.json()).toMatchObject({
      session: { state: 'stopped', energy_wh: '10000', total: { currency: 'CNY', amount_minor: '1500' } },
    });
    expect(await h.run('charging', 'session', 'get', '--id', 's-2')).toBe(2);
  });

  it('parking lot create sends the lot, its devices and its tariff in minor units; bad options are refused before any call', async () => {
    const h = harness(ENV);
    const args = [
      'parking',
      'lot',
      'create',
      '--operator',
      'op-1',
      '--project',
      'p-1',
      '--merchant',
      'm-1',
      '--name',
      'North lot',
      '--capacity',
      '40',
      '--entry-camera',
      'cam-in',
      '--exit-camera',
      'cam-out',
      '--exit-gate',
      'gate-1',
      '--free-minutes',
      '15',
      '--hourly-rate',
      '500',
      '--daily-cap',
      '3000',
      '--request-id',
      'r-lot-1',
    ];
    expect(await h.run(...args)).toBe(0);
    expect(h.api.calls[0]).toEqual({
      method: 'createLot',
      req: {
        requestId: 'r-lot-1',
        tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: 'm-1' },
        name: 'North lot',
        capacity: 40,
        entryCameraId: 'cam-in',
        exitCameraId: 'cam-out',
        exitGateId: 'gate-1',
        tariff: {
          freeMinutes: 15,
          hourlyRate: { currency: 'CNY', amountMinor: 500n },
          dailyCap: { currency: 'CNY', amountMinor: 3_000n },
        },
      },
    });
    expect(h.json()).toMatchObject({
      request_id: 'r-lot-1',
      lot: {
        lot_id: 'lot-1',
        merchant_id: 'm-1',
        exit_gate_id: 'gate-1',
        tariff: {
          free_minutes: 15,
          hourly_rate: { currency: 'CNY', amount_minor: '500' },
          daily_cap: { amount_minor: '3000' },
        },
      },
    });
    // no daily cap and no free minutes given: zero (no cap, nothing free)
    expect(
      await h.run(
        'parking',
        'lot',
        'create',
        ...args.slice(3, 19),
        '--hourly-rate',
        '800',
        '--currency',
        'HKD',
      ),
    ).toBe(0);
    expect((h.api.calls[1]!.req as { tariff: unknown }).tariff).toEqual({
      freeMinutes: 0,
      hourlyRate: { currency: 'HKD', amountMinor: 800n },
      dailyCap: { currency: 'HKD', amountMinor: 0n },
    });
    const calls = h.api.calls.length;
    // refused before any call: no merchant, a rate that is not a whole number of fen
    expect(await h.run(...args.filter((a, i) => a !== '--merchant' && args[i - 1] !== '--merchant'))).toBe(2);
    expect(h.err.join('')).toContain('missing required option --merchant');
    expect(await h.run(...args.slice(0, 19), '--hourly-rate', '5.5')).toBe(2);
    expect(h.err.join('')).toContain("--hourly-rate must be a non-negative integer (got '5.5')");
    expect(h.api.calls.length).toBe(calls);
  });

  it('parking lot get, tariff set and pass issue: the lot, the new tariff, the pass with RFC 3339 times', async () => {
    const h = harness(ENV);
    expect(await h.run('parking', 'lot', 'get', '--operator', 'op-1', '--id', 'lot-1')).toBe(0);
    expect(h.api.calls[0]).toEqual({
      method: 'getLot',
      req: { tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' }, lotId: 'lot-1' },
    });
    expect(h.json()).toMatchObject({ lot: { lot_id: 'lot-1', occupied: 3, capacity: 40 } });
    h.out.length = 0;
    expect(
      await h.run(
        'parking',
        'tariff',
        'set',
        '--operator',
        'op-1',
        '--lot',
        'lot-1',
        '--hourly-rate',
        '600',
        '--request-id',
        'r-t-1',
      ),
    ).toBe(0);
    expect(h.api.calls[1]).toEqual({
      method: 'setParkingTariff',
      req: {
        requestId: 'r-t-1',
        tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' },
        lotId: 'lot-1',
        tariff: {
          freeMinutes: 0,
          hourlyRate: { currency: 'CNY', amountMinor: 600n },
          dailyCap: { currency: 'CNY', amountMinor: 0n },
        },
      },
    });
    expect(h.json()).toMatchObject({ lot: { tariff: { hourly_rate: { amount_minor: '600' } } } });
    h.out.length = 0;
    const pass = [
      'parking',
      'pass',
      'issue',
      '--operator',
      'op-1',
      '--project',
      'p-1',
      '--lot',
      'lot-1',
      '--plate',
      '粤B30003',
      '--resident',
      'res-1',
      '--from',
      '2027-01-01T00:00:00+08:00',
      '--until',
      '2027-02-01T00:00:00+08:00',
    ];
    expect(await h.run(...pass)).toBe(0);
    expect(h.api.calls[2]).toMatchObject({
      method: 'issuePass',
      req: {
        requestId: expect.any(String),
        tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: '' },
        plate: '粤B30003',
        residentId: 'res-1',
        validFrom: { seconds: BigInt(Date.parse('2026-12-31T16:00:00Z') / 1000), nanos: 0 },
      },
    });
    expect(h.json()).toMatchObject({
      pass: {
        pass_id: 'pass-1',
        valid_from: '2026-12-31T16:00:00Z',
        valid_until: '2027-01-31T16:00:00Z',
      },
    });
    const calls = h.api.calls.length;
    expect(await h.run(...pass.slice(0, -2), '--until', 'next month')).toBe(2);
    expect(h.err.join('')).toContain('--until must be an RFC 3339 time with offset');
    expect(h.api.calls.length).toBe(calls);
  });

  it('charging charger configure sends every --band in order and the service fee; get prints the register', async () => {
    const h = harness(ENV);
    const args = [
      'charging',
      'charger',
      'configure',
      '--operator',
      'op-1',
      '--project',
      'p-1',
      '--merchant',
      'm-1',
      '--device',
      'ch-1',
      '--band',
      '0:80',
      '--band',
      '480:120',
      '--band',
      '1320:80',
      '--service-fee',
      '50',
    ];
    expect(await h.run(...args)).toBe(0);
    expect(h.api.calls[0]).toMatchObject({
      method: 'configureCharger',
      req: {
        tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: 'm-1' },
        deviceId: 'ch-1',
        tariff: {
          bands: [
            { fromMinute: 0, pricePerKwh: { currency: 'CNY', amountMinor: 80n } },
            { fromMinute: 480, pricePerKwh: { currency: 'CNY', amountMinor: 120n } },
            { fromMinute: 1320, pricePerKwh: { currency: 'CNY', amountMinor: 80n } },
          ],
          serviceFeePerKwh: { currency: 'CNY', amountMinor: 50n },
        },
      },
    });
    expect(h.json()).toMatchObject({
      charger: {
        device_id: 'ch-1',
        tariff: {
          bands: [{ from_minute: 0, price_per_kwh: { amount_minor: '80' } }, {}, {}],
          service_fee_per_kwh: { amount_minor: '50' },
        },
      },
    });
    h.out.length = 0;
    expect(await h.run('charging', 'charger', 'get', '--operator', 'op-1', '--device', 'ch-1')).toBe(0);
    expect(h.json()).toMatchObject({ charger: { device_id: 'ch-1', last_register_wh: '123456' } });
    const calls = h.api.calls.length;
    expect(await h.run(...args.slice(0, 11), '--band', '8h:120', '--service-fee', '50')).toBe(2);
    expect(h.err.join('')).toContain(
      "--band must be <from-minute:price-per-kWh in minor units>, e.g. 480:120 (got '8h:120')",
    );
    expect(h.api.calls.length).toBe(calls);
  });

  it('door bind takes exactly one of --building and --unit', async () => {
    const h = harness(ENV);
    const args = ['door', 'bind', '--operator', 'op-1', '--project', 'p-1', '--device', 'door-1'];
    expect(await h.run(...args, '--unit', 'unit-101')).toBe(0);
    expect(h.api.calls[0]).toMatchObject({
      method: 'bindDoor',
      req: {
        tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: '' },
        deviceId: 'door-1',
        buildingId: '',
        unitId: 'unit-101',
      },
    });
    expect(h.json()).toMatchObject({ door: { device_id: 'door-1', unit_id: 'unit-101', building_id: '' } });
    expect(await h.run(...args)).toBe(2);
    expect(await h.run(...args, '--unit', 'u', '--building', 'b')).toBe(2);
    expect(h.err.join('')).toContain('give exactly one of --building and --unit');
    expect(h.api.calls.length).toBe(1);
  });

  it('charging session pay sends the points, the coupon code and a request id; prints the pay URL', async () => {
    const h = harness(ENV);
    expect(
      await h.run(
        'charging',
        'session',
        'pay',
        '--operator',
        'op-1',
        '--id',
        's-3',
        '--points',
        '300',
        '--coupon-code',
        'EV5',
        '--request-id',
        'r-pay-1',
      ),
    ).toBe(0);
    expect(h.api.calls[0]).toEqual({
      method: 'payChargingSession',
      req: {
        requestId: 'r-pay-1',
        tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' },
        sessionId: 's-3',
        points: 300n,
        couponCode: 'EV5',
        couponId: '',
        pointsHolderId: '',
      },
    });
    expect(h.json()).toMatchObject({
      request_id: 'r-pay-1',
      session: { session_id: 's-3', checkout_id: 'co-1', payment_state: 'open' },
      pay_url: 'http://sandbox/pay/co-1',
    });
    const calls = h.api.calls.length;
    expect(
      await h.run('charging', 'session', 'pay', '--operator', 'op-1', '--id', 's-3', '--points', '-1'),
    ).toBe(2);
    expect(h.api.calls.length).toBe(calls);
  });
});

describe('feeds and datasets commands', () => {
  it('feeds grant sends the grant with its fields and masking, under a request id', async () => {
    const h = harness(ENV);
    expect(
      await h.run(
        'feeds',
        'grant',
        '--operator',
        'op-1',
        '--agency',
        'agency-tax',
        '--agency-client',
        'cb_tax',
        '--dataset',
        'settlement.tax_records',
        '--field',
        'merchant_id:clear',
        '--field',
        'order_id:hash',
        '--district',
        'Futian',
        '--purpose',
        'tax',
        '--valid-until',
        '2027-01-01T00:00:00Z',
        '--quota',
        '1000',
      ),
    ).toBe(0);
    expect(h.api.calls[0]).toMatchObject({
      method: 'issueGrant',
      req: {
        tenancy: { operatorId: 'op-1', projectId: '' },
        agencyClientId: 'cb_tax',
        datasets: [
          {
            datasetId: 'settlement.tax_records',
            fields: [
              { name: 'merchant_id', masking: 1 },
              { name: 'order_id', masking: 3 },
            ],
          },
        ],
        rowFilter: { districts: ['Futian'], projectIds: [] },
        quotaRowsPerDay: 1000n,
      },
    });
    expect(
      await h.run(
        'feeds',
        'grant',
        '--agency',
        'a',
        '--agency-client',
        'c',
        '--dataset',
        'd.e',
        '--field',
        'x:secret',
        '--purpose',
        'p',
        '--valid-until',
        '2027-01-01T00:00:00Z',
        '--quota',
        '1',
      ),
    ).toBe(2);
  });

  it('feeds export-log writes the export to a new file', async () => {
    const h = harness(ENV);
    const out = join(dir, 'log-export.json');
    expect(await h.run('feeds', 'export-log', '--out', out)).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('citybase-access-log/v1');
    expect(await h.run('feeds', 'export-log', '--out', out)).toBe(1);
  });
});

describe('checkout', () => {
  it('creates a checkout with a coupon code and points, and refunds part of one', async () => {
    const h = harness();
    expect(
      await h.run(
        'checkout',
        'create',
        '--operator',
        'op-1',
        '--project',
        'p-1',
        '--merchant',
        'm-1',
        '--scenario',
        'goods',
        '--total',
        '10000',
        '--user',
        'u-1',
        '--coupon-code',
        'AUTUMN',
        '--points',
        '2000',
        '--item',
        'sku-1',
        '--request-id',
        'co-req-1',
      ),
    ).toBe(0);
    const out = h.json() as {
      request_id: string;
      checkout: { status: string; parts: Record<string, unknown>; pay_url: string };
    };
    expect(out.request_id).toBe('co-req-1');
    expect(out.checkout.status).toBe('AWAITING_PAYMENT');
    expect(out.checkout.parts).toMatchObject({
      points: '2000',
      money: { currency: 'CNY', amount_minor: '7000' },
    });
    expect(h.api.calls[0]).toEqual({
      method: 'createCheckout',
      req: {
        requestId: 'co-req-1',
        tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: '' },
        merchantId: 'm-1',
        scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
        total: { currency: 'CNY', amountMinor: 10_000n },
        itemCodes: ['sku-1'],
        userId: 'u-1',
        pointsHolderId: '',
        couponId: '',
        couponCode: 'AUTUMN',
        points: 2_000n,
        payerRef: 'u-1',
        description: '',
        expiresInSeconds: 0,
        profitSharing: false,
      },
    });
    h.out.length = 0;
    expect(
      await h.run('checkout', 'refund', '--id', 'co-1', '--amount', '5000', '--reason', 'returned'),
    ).toBe(0);
    expect(h.api.calls[1]).toEqual({
      method: 'refundCheckout',
      req: {
        requestId: 'generated-1',
        checkoutId: 'co-1',
        amount: { currency: 'CNY', amountMinor: 5_000n },
        reason: 'returned',
      },
    });
  });
});
