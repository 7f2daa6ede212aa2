// Carries out a parsed command: init through identity's admin entry point, everything else through
// identity's API with a token of the given credentials.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { PageResponse } from '@citybase/contracts/citybase/common/v1/common';
import { CampaignStatus, CodeBatchStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import type { Command } from './commands';
import { type ClientCredentials, assertNewFile, loadCredentials } from './credentials';
import { CliError, grpcStatusName, isServiceError, oneLine } from './errors';
import { type Endpoints, type IdentityApi, connectIdentity, endpointsFromEnv } from './identity-api';
import { printSecret, runInit } from './init';
import type { Io } from './io';
import { runFeedsVerify } from './feeds-verify';
import { runLedgerCheck } from './ledger-check';
import {
  renderBalance,
  renderBudget,
  renderCampaign,
  renderCheckout,
  renderCheckoutRefund,
  renderDevice,
  renderDeviceCommand,
  renderParkingSession,
  renderChargingSession,
  renderCharger,
  renderDoor,
  renderMonthlyPass,
  renderParkingLot,
  renderClient,
  renderCodeBatch,
  renderEarningRule,
  renderOperator,
  renderProgramme,
  renderProject,
  renderSigningKey,
  toJsonText,
} from './render';

export interface RunDeps {
  io: Io;
  /** Gets a token for the credentials and returns identity's API (a fake in unit tests). */
  connect(endpoints: Endpoints, credentials: ClientCredentials): Promise<IdentityApi>;
  newRequestId(): string;
}

export function defaultDeps(io: Io): RunDeps {
  return { io, connect: connectIdentity, newRequestId: randomUUID };
}

/** Statuses after which a mutating call may or may not have happened: worth a retry with the same key. */
const OUTCOME_UNKNOWN = new Set<number>([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.CANCELLED,
  GrpcStatus.UNKNOWN,
  GrpcStatus.INTERNAL,
  GrpcStatus.ABORTED,
]);

/** Safety stop for list paging (a server repeating its page token). */
const MAX_PAGES = 10_000;

async function allPages<T>(
  page: (token: string) => Promise<{ items: T[]; page: PageResponse | undefined }>,
): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let token = '';
  for (let n = 0; n < MAX_PAGES; n++) {
    const res = await page(token);
    items.push(...res.items);
    token = res.page?.nextPageToken ?? '';
    if (token === '') return items;
    if (seen.has(token)) throw new CliError('identity returned the same page token twice; stopping');
    seen.add(token);
  }
  throw new CliError(`more than ${MAX_PAGES} pages; stopping`);
}

/** Runs the command; returns the exit code. Failures are thrown (CliError, UsageError, gRPC ServiceError). */
export async function execute(command: Command, deps: RunDeps): Promise<number> {
  const { io } = deps;
  if (command.name === 'init') return runInit(command, io);
  if (command.name === 'ledger check') return runLedgerCheck(command, io);
  if (command.name === 'feeds verify') return runFeedsVerify(command, io);

  const credentials = loadCredentials(command.auth, io.env, command.name);
  const endpoints = endpointsFromEnv(io.env);
  const save = 'save' in command ? command.save : undefined;
  // Refuse before anything is created: the secret could not be saved afterwards.
  if (save !== undefined) assertNewFile(save);
  // Every mutating call carries an idempotency key: --request-id, else a fresh UUID.
  const requestId = mutating(command) ? (command.requestId ?? deps.newRequestId()) : '';

  const api = await deps.connect(endpoints, credentials);
  try {
    return await call(command, api, requestId, io);
  } catch (err) {
    if (requestId !== '' && isServiceError(err) && OUTCOME_UNKNOWN.has(err.code)) {
      throw new CliError(
        `${grpcStatusName(err.code)}: ${oneLine(err.details)} (the outcome is unknown; retry safely with --request-id ${requestId})`,
      );
    }
    throw err;
  } finally {
    api.close();
  }
}

type ApiCommand = Exclude<Command, { name: 'init' } | { name: 'ledger check' } | { name: 'feeds verify' }>;
type MutatingCommand = Extract<
  ApiCommand,
  {
    name:
      | 'operator create'
      | 'project create'
      | 'client create'
      | 'client rotate-secret'
      | 'client revoke'
      | 'keys rotate'
      | 'points programme set'
      | 'points budget set'
      | 'points rule set'
      | 'points issue'
      | 'campaign create'
      | 'campaign activate'
      | 'campaign pause'
      | 'campaign end'
      | 'campaign codes'
      | 'datasets classify'
      | 'datasets scan'
      | 'feeds grant'
      | 'feeds revoke'
      | 'checkout create'
      | 'checkout cancel'
      | 'checkout refund'
      | 'device register'
      | 'device rotate'
      | 'device revoke'
      | 'device command send'
      | 'parking lot create'
      | 'parking tariff set'
      | 'parking pass issue'
      | 'charging charger configure'
      | 'door bind'
      | 'charging session pay';
  }
>;

function mutating(command: ApiCommand): command is MutatingCommand {
  switch (command.name) {
    case 'operator create':
    case 'project create':
    case 'client create':
    case 'client rotate-secret':
    case 'client revoke':
    case 'keys rotate':
    case 'points programme set':
    case 'points budget set':
    case 'points rule set':
    case 'points issue':
    case 'campaign create':
    case 'campaign activate':
    case 'campaign pause':
    case 'campaign end':
    case 'checkout create':
    case 'checkout cancel':
    case 'checkout refund':
    case 'device register':
    case 'device rotate':
    case 'device revoke':
    case 'device command send':
    case 'parking lot create':
    case 'parking tariff set':
    case 'parking pass issue':
    case 'charging charger configure':
    case 'door bind':
    case 'charging session pay':
      return true;
    case 'campaign codes':
      return command.generate !== undefined;
    case 'datasets classify':
    case 'datasets scan':
    case 'feeds grant':
    case 'feeds revoke':
      return true;
    case 'datasets list':
    case 'feeds list':
    case 'feeds export-log':
      return false;
    case 'operator list':
    case 'project list':
    case 'client list':
    case 'points programme get':
    case 'points budget get':
    case 'points budget list':
    case 'campaign get':
    case 'campaign list':
    case 'device get':
    case 'device list':
    case 'device command get':
    case 'parking session get':
    case 'parking lot get':
    case 'charging session get':
    case 'charging charger get':
    case 'points rule list':
    case 'points balance':
    case 'checkout get':
      return false;
  }
}

async function call(command: ApiCommand, api: IdentityApi, requestId: string, io: Io): Promise<number> {
  const print = (result: unknown): number => {
    io.out(toJsonText(result));
    return 0;
  };
  switch (command.name) {
    case 'operator create': {
      const res = await api.createOperator({ requestId, name: command.operatorName });
      return print({ request_id: requestId, operator: renderOperator(res.operator) });
    }
    case 'operator list': {
      const operators = await allPages(async (pageToken) => {
        const res = await api.listOperators({ page: { pageSize: 0, pageToken } });
        return { items: res.operators, page: res.page };
      });
      return print({ operators: operators.map(renderOperator) });
    }
    case 'project create': {
      const res = await api.createProject({
        requestId,
        operatorId: command.operatorId,
        name: command.projectName,
        kind: command.kind,
      });
      return print({ request_id: requestId, project: renderProject(res.project) });
    }
    case 'project list': {
      const projects = await allPages(async (pageToken) => {
        const res = await api.listProjects({
          operatorId: command.operatorId,
          page: { pageSize: 0, pageToken },
        });
        return { items: res.projects, page: res.page };
      });
      return print({ projects: projects.map(renderProject) });
    }
    case 'client create': {
      const res = await api.createClient({
        requestId,
        name: command.clientName,
        scopes: command.scopes,
        tenancy: { operatorIds: command.operatorIds, projectIds: command.projectIds },
      });
      return printClientSecret(requestId, res.client?.clientId, res, command.save, io);
    }
    case 'client list': {
      const clients = await allPages(async (pageToken) => {
        const res = await api.listClients({ page: { pageSize: 0, pageToken } });
        return { items: res.clients, page: res.page };
      });
      return print({ clients: clients.map(renderClient) });
    }
    case 'client rotate-secret': {
      const res = await api.rotateClientSecret({ requestId, clientId: command.clientId });
      return printClientSecret(requestId, res.client?.clientId ?? command.clientId, res, command.save, io);
    }
    case 'client revoke': {
      const res = await api.revokeClient({ requestId, clientId: command.clientId, reason: command.reason });
      return print({ request_id: requestId, client: renderClient(res.client) });
    }
    case 'keys rotate': {
      const res = await api.rotateSigningKey({ requestId });
      return print({
        request_id: requestId,
        key: renderSigningKey(res.key),
        published: res.published.map(renderSigningKey),
      });
    }
    case 'points programme set': {
      const { name: _name, auth: _auth, requestId: _requestId, operatorId, ...terms } = command;
      const res = await api.setProgramme({
        requestId,
        programme: {
          ...terms,
          tenancy: { operatorId, projectId: '', merchantId: '' },
          updatedAt: undefined,
        },
      });
      return print({ request_id: requestId, programme: renderProgramme(res.programme) });
    }
    case 'points programme get': {
      const res = await api.getProgramme({
        tenancy: { operatorId: command.operatorId, projectId: '', merchantId: '' },
      });
      return print({ programme: renderProgramme(res.programme) });
    }
    case 'points budget set': {
      const res = await api.setBudget({
        requestId,
        tenancy: { operatorId: command.operatorId, projectId: command.projectId, merchantId: '' },
        period: command.period,
        allotted: command.allotted,
      });
      return print({ request_id: requestId, budget: renderBudget(res.budget) });
    }
    case 'points budget get': {
      const res = await api.getBudget({
        tenancy: { operatorId: command.operatorId, projectId: command.projectId, merchantId: '' },
        period: command.period,
      });
      return print({ budget: renderBudget(res.budget) });
    }
    case 'points budget list': {
      const budgets = await allPages(async (pageToken) => {
        const res = await api.listBudgets({
          tenancy: { operatorId: command.operatorId, projectId: '', merchantId: '' },
          period: command.period,
          page: { pageSize: 0, pageToken },
        });
        return { items: res.budgets, page: res.page };
      });
      return print({ budgets: budgets.map(renderBudget) });
    }
    case 'points rule set': {
      const res = await api.setEarningRule({
        requestId,
        rule: {
          ruleId: '',
          tenancy: { operatorId: command.operatorId, projectId: command.projectId, merchantId: '' },
          scenario: command.scenario,
          pointsPerYuan: command.pointsPerYuan,
          dailyCap: command.dailyCap,
          updatedAt: undefined,
        },
      });
      return print({ request_id: requestId, rule: renderEarningRule(res.rule) });
    }
    case 'points rule list': {
      const rules = await allPages(async (pageToken) => {
        const res = await api.listEarningRules({
          tenancy: { operatorId: command.operatorId, projectId: command.projectId, merchantId: '' },
          page: { pageSize: 0, pageToken },
        });
        return { items: res.rules, page: res.page };
      });
      return print({ rules: rules.map(renderEarningRule) });
    }
    case 'points issue': {
      const res = await api.issuePoints({
        requestId,
        tenancy: { operatorId: command.operatorId, projectId: command.projectId, merchantId: '' },
        holderId: command.holderId,
        points: command.points,
        reason: command.reason,
        expiresAt: command.expiresAt,
      });
      return print({ request_id: requestId, lot_id: res.lotId, available: res.available.toString() });
    }
    case 'points balance': {
      const res = await api.getBalance({
        tenancy: { operatorId: command.operatorId, projectId: '', merchantId: '' },
        holderId: command.holderId,
      });
      return print({ balance: renderBalance(res) });
    }
    // Checkouts: the calls a scenario app makes (docs/payment-checkout.md shows this code).
    case 'checkout create': {
      const res = await api.createCheckout({
        requestId,
        tenancy: { operatorId: command.operatorId, projectId: command.projectId, merchantId: '' },
        merchantId: command.merchantId,
        scenario: command.scenario,
        total: command.total,
        itemCodes: command.itemCodes,
        userId: command.userId,
        pointsHolderId: command.pointsHolderId,
        couponId: command.couponId,
        couponCode: command.couponCode,
        points: command.points,
        payerRef: command.payerRef,
        description: command.description,
        expiresInSeconds: command.expiresInSeconds,
        profitSharing: false,
      });
      return print({ request_id: requestId, checkout: renderCheckout(res.checkout) });
    }
    case 'checkout get': {
      const res = await api.getCheckout({ checkoutId: command.checkoutId });
      return print({ checkout: renderCheckout(res.checkout) });
    }
    case 'checkout cancel': {
      const res = await api.cancelCheckout({ requestId, checkoutId: command.checkoutId });
      return print({ request_id: requestId, checkout: renderCheckout(res.checkout) });
    }
    case 'checkout refund': {
      const res = await api.refundCheckout({
        requestId,
        checkoutId: command.checkoutId,
        amount: command.amount,
        reason: command.reason,
      });
      return print({
        request_id: requestId,
        refund: renderCheckoutRefund(res.refund),
        checkout: renderCheckout(res.checkout),
      });
    }
    case 'campaign create': {
      const res = await api.createCampaign({ requestId, campaign: command.campaign });
      return print({ request_id: requestId, campaign: renderCampaign(res.campaign) });
    }
    case 'device register': {
      const res = await api.registerDevice({
        requestId,
        tenancy: { operatorId: command.operatorId, projectId: command.projectId, merchantId: '' },
        kind: command.kind,
        name: command.deviceName,
        serialNumber: command.serialNumber,
        profile: command.profile,
      });
      return print({
        request_id: requestId,
        device: renderDevice(res.device),
        credentials: res.credentials ?? null,
      });
    }
    case 'device get':
      return print({ device: renderDevice((await api.getDevice({ deviceId: command.deviceId })).device) });
    case 'device list': {
      const devices = await allPages(async (pageToken) => {
        const res = await api.listDevices({
          tenancy: { operatorId: command.operatorId, projectId: command.projectId, merchantId: '' },
          kind: 0,
          page: { pageSize: 0, pageToken },
        });
        return { items: res.devices, page: res.page };
      });
      return print({ devices: devices.map(renderDevice) });
    }
    case 'device rotate': {
      const res = await api.rotateDeviceCredentials({ requestId, deviceId: command.deviceId });
      return print({
        request_id: requestId,
        device: renderDevice(res.device),
        credentials: res.credentials ?? null,
      });
    }
    case 'device revoke': {
      const res = await api.revokeDevice({ requestId, deviceId: command.deviceId, reason: command.reason });
      return print({ request_id: requestId, device: renderDevice(res.device) });
    }
    case 'device command send': {
      const res = await api.sendCommand({
        requestId,
        tenancy: { operatorId: command.operatorId, projectId: command.projectId, merchantId: '' },
        deviceId: command.deviceId,
        kind: command.kind,
        args: {},
        reference: '',
        ttlSeconds: command.ttlSeconds,
      });
      return print({ request_id: requestId, command: renderDeviceCommand(res.command) });
    }
    case 'device command get': {
      const res = await api.getCommand({
        tenancy: { operatorId: command.operatorId, projectId: '', merchantId: '' },
        commandId: command.commandId,
      });
      return print({ command: renderDeviceCommand(res.command) });
    }
    case 'parking session get': {
      const res = await api.getParkingSession({
        tenancy: { operatorId: command.operatorId, projectId: '', merchantId: '' },
        sessionId: command.sessionId,
      });
      return print({ session: renderParkingSession(res.session) });
    }
    case 'parking lot create': {
      const res = await api.createLot({ requestId, ...command.request });
      return print({ request_id: requestId, lot: renderParkingLot(res.lot) });
    }
    case 'parking lot get': {
      const res = await api.getLot({
        tenancy: { operatorId: command.operatorId, projectId: '', merchantId: '' },
        lotId: command.lotId,
      });
      return print({ lot: renderParkingLot(res.lot) });
    }
    case 'parking tariff set': {
      const res = await api.setParkingTariff({ requestId, ...command.request });
      return print({ request_id: requestId, lot: renderParkingLot(res.lot) });
    }
    case 'parking pass issue': {
      const res = await api.issuePass({ requestId, ...command.request });
      return print({ request_id: requestId, pass: renderMonthlyPass(res.pass) });
    }
    case 'charging charger configure': {
      const res = await api.configureCharger({ requestId, ...command.request });
      return print({ request_id: requestId, charger: renderCharger(res.charger) });
    }
    case 'charging charger get': {
      const res = await api.getCharger({
        tenancy: { operatorId: command.operatorId, projectId: '', merchantId: '' },
        deviceId: command.deviceId,
      });
      return print({ charger: renderCharger(res.charger) });
    }
    case 'door bind': {
      const res = await api.bindDoor({ requestId, ...command.request });
      return print({ request_id: requestId, door: renderDoor(res.door) });
    }
    case 'charging session get': {
      const res = await api.getChargingSession({
        tenancy: { operatorId: command.operatorId, projectId: '', merchantId: '' },
        sessionId: command.sessionId,
      });
      return print({ session: renderChargingSession(res.session) });
    }
    case 'charging session pay': {
      const res = await api.payChargingSession({
        requestId,
        tenancy: { operatorId: command.operatorId, projectId: '', merchantId: '' },
        sessionId: command.sessionId,
        points: command.points,
        couponCode: command.couponCode,
        couponId: command.couponId,
        pointsHolderId: command.pointsHolderId,
      });
      return print({
        request_id: requestId,
        session: renderChargingSession(res.session),
        pay_url: res.payUrl,
      });
    }
    case 'campaign get': {
      const res = await api.getCampaign({
        tenancy: marketingTenancy(command.operatorId),
        campaignId: command.campaignId,
      });
      return print({ campaign: renderCampaign(res.campaign) });
    }
    case 'campaign list': {
      const campaigns = await allPages(async (pageToken) => {
        const res = await api.listCampaigns({
          tenancy: marketingTenancy(command.operatorId, command.projectId),
          status: command.status,
          page: { pageSize: 0, pageToken },
        });
        return { items: res.campaigns, page: res.page };
      });
      return print({ campaigns: campaigns.map(renderCampaign) });
    }
    case 'campaign activate':
    case 'campaign pause':
    case 'campaign end': {
      const res = await api.updateCampaign({
        requestId,
        tenancy: marketingTenancy(command.operatorId),
        campaignId: command.campaignId,
        status: CAMPAIGN_VERBS[command.name],
        maxCoupons: 0n,
        maxSpend: undefined,
        claimUntil: undefined,
      });
      return print({ request_id: requestId, campaign: renderCampaign(res.campaign) });
    }
    case 'datasets list': {
      const datasets = await allPages(async (pageToken) => {
        const res = await api.listDatasets({ page: { pageSize: 0, pageToken } });
        return { items: res.datasets, page: res.page };
      });
      return print({ datasets });
    }
    case 'datasets classify': {
      const res = await api.classifyField({
        requestId,
        datasetId: command.datasetId,
        field: command.field,
        classification: command.classification,
      });
      return print({ request_id: requestId, dataset: res.dataset });
    }
    case 'datasets scan': {
      const res = await api.scanDataset({ requestId, datasetId: command.datasetId });
      return print({ request_id: requestId, dataset: res.dataset, rows_scanned: res.rowsScanned });
    }
    case 'feeds grant': {
      const res = await api.issueGrant({
        requestId,
        tenancy: { operatorId: command.operatorId, projectId: command.projectId, merchantId: '' },
        agencyId: command.agencyId,
        agencyClientId: command.agencyClientId,
        datasets: [{ datasetId: command.datasetId, fields: command.fields }],
        rowFilter: { districts: command.districts, projectIds: command.projectIds },
        purpose: command.purpose,
        validFrom: undefined,
        validUntil: command.validUntil,
        quotaRowsPerDay: command.quotaRowsPerDay,
      });
      return print({ request_id: requestId, grant: res.grant });
    }
    case 'feeds revoke': {
      const res = await api.revokeGrant({ requestId, grantId: command.grantId, reason: command.reason });
      return print({ request_id: requestId, grant: res.grant });
    }
    case 'feeds list': {
      const grants = await allPages(async (pageToken) => {
        const res = await api.listGrants({ agencyId: command.agencyId, page: { pageSize: 0, pageToken } });
        return { items: res.grants, page: res.page };
      });
      return print({ grants });
    }
    case 'feeds export-log': {
      assertNewFile(command.out);
      const res = await api.exportAccessLog({ fromSeq: 0n });
      writeFileSync(command.out, res.exportJson, { flag: 'wx' });
      return print({ out: command.out, entries: res.entries });
    }
    case 'campaign codes': {
      const tenancy = marketingTenancy(command.operatorId);
      if (command.generate) {
        const res = await api.generateCodes({ requestId, tenancy, ...command.generate });
        return print({ request_id: requestId, batch: renderCodeBatch(res.batch) });
      }
      const batchId = command.batchId ?? '';
      const res = await api.getCodeBatch({ tenancy, batchId });
      if (!command.exportCodes) return print({ batch: renderCodeBatch(res.batch) });
      if (res.batch?.status !== CodeBatchStatus.CODE_BATCH_STATUS_DONE)
        throw new CliError(
          `batch ${batchId} is still running (${res.batch?.generated ?? 0n} of ${res.batch?.requested ?? 0n}): export it once it is done`,
        );
      const codes = await allPages(async (pageToken) => {
        const page = await api.exportCodes({ tenancy, batchId, page: { pageSize: 10_000, pageToken } });
        return { items: page.codes, page: page.page };
      });
      return print({
        batch: renderCodeBatch(res.batch),
        codes: codes.map((c) => ({ code: c.code, coupon_id: c.couponId === '' ? null : c.couponId })),
      });
    }
  }
}

const CAMPAIGN_VERBS = {
  'campaign activate': CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
  'campaign pause': CampaignStatus.CAMPAIGN_STATUS_PAUSED,
  'campaign end': CampaignStatus.CAMPAIGN_STATUS_ENDED,
} as const;

function marketingTenancy(operatorId: string, projectId = '') {
  return { operatorId, projectId, merchantId: '' };
}

/** Output of CreateClient / RotateClientSecret: the secret once, or a note that a replay has none. */
function printClientSecret(
  requestId: string,
  clientId: string | undefined,
  res: { client: Parameters<typeof renderClient>[0]; clientSecret: string },
  save: string | undefined,
  io: Io,
): number {
  const result: Record<string, unknown> = {
    request_id: requestId,
    client: renderClient(res.client),
    client_secret: res.clientSecret === '' ? null : res.clientSecret,
  };
  if (res.clientSecret === '' || clientId === undefined || clientId === '') {
    io.out(toJsonText(result));
    io.err(
      `citybase: no secret in the answer: request_id ${requestId} was already carried out, and its secret was shown only then` +
        (clientId
          ? `; if it is lost, 'citybase client rotate-secret --id ${clientId}' makes a new one\n`
          : '\n'),
    );
    if (save !== undefined) {
      io.err(`citybase: nothing was saved to ${save}\n`);
      return 1;
    }
    return 0;
  }
  return printSecret(result, { client_id: clientId, client_secret: res.clientSecret }, save, io);
}
