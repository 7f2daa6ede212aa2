// The identity service as the tool sees it: an OAuth2 client-credentials token from the HTTP token
// endpoint, then unary gRPC calls carrying it as `authorization: Bearer <token>`.
import * as grpc from '@grpc/grpc-js';
import { ClientServiceService } from '@citybase/contracts/citybase/identity/v1/clients';
import { TenancyServiceService } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { PointsServiceService } from '@citybase/contracts/citybase/points/v1/points';
import { MarketingServiceService } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { DataServiceService } from '@citybase/contracts/citybase/data/v1/data';
import { PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { AccessServiceService } from '@citybase/contracts/citybase/iot/v1/access';
import { ChargingServiceService } from '@citybase/contracts/citybase/iot/v1/charging';
import { CommandServiceService } from '@citybase/contracts/citybase/iot/v1/commands';
import { ParkingServiceService } from '@citybase/contracts/citybase/iot/v1/parking';
import { IotServiceService } from '@citybase/contracts/citybase/iot/v1/iot';
import type { ClientCredentials, Env } from './credentials';
import { CliError } from './errors';

export const DEFAULT_IDENTITY_URL = 'http://127.0.0.1:8081';
export const DEFAULT_IDENTITY_GRPC = '127.0.0.1:50051';
/** The points service's gRPC port (its tokens come from identity too). */
export const DEFAULT_POINTS_GRPC = '127.0.0.1:50054';
/** The marketing service's gRPC port (`citybase campaign ...`). */
export const DEFAULT_MARKETING_GRPC = '127.0.0.1:50055';
/** The data service's gRPC port (`citybase feeds ...`, `citybase datasets ...`). */
export const DEFAULT_DATA_GRPC = '127.0.0.1:50057';
/** The payment service's gRPC port (`citybase checkout ...`). */
export const DEFAULT_PAYMENT_GRPC = '127.0.0.1:50052';
/** The iot service's gRPC port (`citybase device ...`). */
export const DEFAULT_IOT_GRPC = '127.0.0.1:50056';
/** Deadline of one gRPC call and of the token request. */
export const CALL_TIMEOUT_MS = 30_000;

export interface Endpoints {
  /** Base URL of identity's HTTP port (POST /oauth/token). */
  httpUrl: string;
  /** host:port of identity's gRPC port. */
  grpcAddress: string;
  /** host:port of the points service's gRPC port (`citybase points ...`). */
  pointsGrpcAddress: string;
  /** host:port of the marketing service's gRPC port (`citybase campaign ...`). */
  marketingGrpcAddress: string;
  /** host:port of the data service's gRPC port (`citybase feeds ...`, `citybase datasets ...`). */
  dataGrpcAddress: string;
  /** host:port of the payment service's gRPC port (`citybase checkout ...`); default 127.0.0.1:50052. */
  paymentGrpcAddress?: string;
  /** host:port of the iot service's gRPC port (`citybase device ...`). */
  iotGrpcAddress: string;
}

export function endpointsFromEnv(env: Env): Endpoints {
  const httpUrl = (env.CITYBASE_IDENTITY_URL || DEFAULT_IDENTITY_URL).replace(/\/+$/, '');
  try {
    const u = new URL(httpUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new CliError(`CITYBASE_IDENTITY_URL must be an http(s) URL (got '${httpUrl}')`);
  }
  return {
    httpUrl,
    grpcAddress: env.CITYBASE_IDENTITY_GRPC || DEFAULT_IDENTITY_GRPC,
    pointsGrpcAddress: env.CITYBASE_POINTS_GRPC || DEFAULT_POINTS_GRPC,
    marketingGrpcAddress: env.CITYBASE_MARKETING_GRPC || DEFAULT_MARKETING_GRPC,
    dataGrpcAddress: env.CITYBASE_DATA_GRPC || DEFAULT_DATA_GRPC,
    paymentGrpcAddress: env.CITYBASE_PAYMENT_GRPC || DEFAULT_PAYMENT_GRPC,
    iotGrpcAddress: env.CITYBASE_IOT_GRPC || DEFAULT_IOT_GRPC,
  };
}

export interface AccessToken {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 §2.3.1 Basic credentials use it too). */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** Client-credentials grant (RFC 6749 §4.4) with HTTP Basic client authentication. */
export async function fetchToken(
  httpUrl: string,
  credentials: ClientCredentials,
  fetchImpl: typeof fetch = fetch,
): Promise<AccessToken> {
  const url = `${httpUrl}/oauth/token`;
  const basic = Buffer.from(
    `${formEncode(credentials.client_id)}:${formEncode(credentials.client_secret)}`,
    'utf8',
  ).toString('base64');
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: `Basic ${basic}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
  } catch (err) {
    throw new CliError(`cannot reach identity at ${url}: ${networkReason(err)}`);
  }
  const text = await res.text().catch(() => '');
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    body = {};
  }
  if (!res.ok) {
    const error = typeof body.error === 'string' ? body.error : 'no OAuth error in the answer';
    const description = typeof body.error_description === 'string' ? `: ${body.error_description}` : '';
    throw new CliError(`token request refused (HTTP ${res.status} from ${url}): ${error}${description}`);
  }
  if (typeof body.access_token !== 'string' || body.access_token === '') {
    throw new CliError(`token endpoint ${url} answered ${res.status} without an access_token`);
  }
  return {
    access_token: body.access_token,
    token_type: typeof body.token_type === 'string' ? body.token_type : '',
    expires_in: typeof body.expires_in === 'number' ? body.expires_in : 0,
    scope: typeof body.scope === 'string' ? body.scope : '',
  };
}

function networkReason(err: unknown): string {
  // Duck-typed: fetch's errors may come from another realm (instanceof Error is not reliable).
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    message?: unknown;
    cause?: unknown;
  };
  if (e.name === 'TimeoutError') return `no answer within ${CALL_TIMEOUT_MS / 1000}s`;
  const cause = (typeof e.cause === 'object' && e.cause !== null ? e.cause : {}) as {
    code?: unknown;
    message?: unknown;
  };
  if (typeof cause.code === 'string') return cause.code;
  if (typeof cause.message === 'string') return cause.message;
  return typeof e.message === 'string' ? e.message : String(err);
}

type Unary<S> = {
  [K in keyof S]: S[K] extends grpc.MethodDefinition<infer Req, infer Res>
    ? (req: Req) => Promise<Res>
    : never;
};

type TenancyCalls = Pick<
  Unary<typeof TenancyServiceService>,
  'createOperator' | 'listOperators' | 'createProject' | 'listProjects'
>;
type ClientCalls = Pick<
  Unary<typeof ClientServiceService>,
  'createClient' | 'listClients' | 'rotateClientSecret' | 'revokeClient' | 'rotateSigningKey'
>;

type PointsCalls = Pick<
  Unary<typeof PointsServiceService>,
  | 'setProgramme'
  | 'getProgramme'
  | 'setBudget'
  | 'getBudget'
  | 'listBudgets'
  | 'setEarningRule'
  | 'listEarningRules'
  | 'issuePoints'
  | 'getBalance'
>;

type MarketingCalls = Pick<
  Unary<typeof MarketingServiceService>,
  | 'createCampaign'
  | 'updateCampaign'
  | 'getCampaign'
  | 'listCampaigns'
  | 'generateCodes'
  | 'getCodeBatch'
  | 'exportCodes'
>;

type DataCalls = Pick<
  Unary<typeof DataServiceService>,
  | 'listDatasets'
  | 'classifyField'
  | 'scanDataset'
  | 'issueGrant'
  | 'listGrants'
  | 'revokeGrant'
  | 'exportAccessLog'
>;

/** Checkouts (`citybase checkout ...`): what a scenario app calls to sell a basket. */
type PaymentCalls = Pick<
  Unary<typeof PaymentServiceService>,
  'createCheckout' | 'getCheckout' | 'cancelCheckout' | 'refundCheckout'
>;

type IotCalls = Pick<
  Unary<typeof IotServiceService>,
  'registerDevice' | 'getDevice' | 'listDevices' | 'rotateDeviceCredentials' | 'revokeDevice'
> &
  Pick<Unary<typeof CommandServiceService>, 'sendCommand' | 'getCommand'> &
  Pick<
    Unary<typeof ParkingServiceService>,
    'getParkingSession' | 'createLot' | 'getLot' | 'setParkingTariff' | 'issuePass'
  > &
  Pick<
    Unary<typeof ChargingServiceService>,
    'getChargingSession' | 'payChargingSession' | 'configureCharger' | 'getCharger'
  > &
  Pick<Unary<typeof AccessServiceService>, 'bindDoor'>;

/** The RPCs the tool uses: identity's, the points, marketing, iot and data services' operator tools, checkouts. */
export type IdentityApi = TenancyCalls &
  ClientCalls &
  PointsCalls &
  MarketingCalls &
  DataCalls &
  PaymentCalls &
  IotCalls & { close(): void };

type RawUnary = (
  req: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, res: unknown) => void,
) => void;

function promiseClient<S extends grpc.ServiceDefinition>(
  definition: S,
  address: string,
  metadata: () => grpc.Metadata,
): Unary<S> & { close(): void } {
  const Ctor = grpc.makeGenericClientConstructor(definition, 'citybase');
  const raw = new Ctor(address, grpc.credentials.createInsecure()) as unknown as Record<string, RawUnary> & {
    close(): void;
  };
  const client: Record<string, unknown> = { close: () => raw.close() };
  for (const name of Object.keys(definition)) {
    client[name] = (req: unknown) =>
      new Promise((resolve, reject) =>
        raw[name](req, metadata(), { deadline: Date.now() + CALL_TIMEOUT_MS }, (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      );
  }
  return client as Unary<S> & { close(): void };
}

/**
 * gRPC clients of identity's TenancyService and ClientService, and of the points service, that
 * send `token` with every call.
 */
export function identityApi(
  grpcAddress: string,
  token: string,
  pointsGrpcAddress = DEFAULT_POINTS_GRPC,
  marketingGrpcAddress = DEFAULT_MARKETING_GRPC,
  dataGrpcAddress = DEFAULT_DATA_GRPC,
  paymentGrpcAddress = DEFAULT_PAYMENT_GRPC,
  iotGrpcAddress = DEFAULT_IOT_GRPC,
): IdentityApi {
  const metadata = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    return md;
  };
  const tenancy = promiseClient(TenancyServiceService, grpcAddress, metadata);
  const clients = promiseClient(ClientServiceService, grpcAddress, metadata);
  const points = promiseClient(PointsServiceService, pointsGrpcAddress, metadata);
  const marketing = promiseClient(MarketingServiceService, marketingGrpcAddress, metadata);
  const data = promiseClient(DataServiceService, dataGrpcAddress, metadata);
  const payment = promiseClient(PaymentServiceService, paymentGrpcAddress, metadata);
  const iot = promiseClient(IotServiceService, iotGrpcAddress, metadata);
  const commands = promiseClient(CommandServiceService, iotGrpcAddress, metadata);
  const parking = promiseClient(ParkingServiceService, iotGrpcAddress, metadata);
  const charging = promiseClient(ChargingServiceService, iotGrpcAddress, metadata);
  const access = promiseClient(AccessServiceService, iotGrpcAddress, metadata);
  return {
    createOperator: tenancy.createOperator,
    listOperators: tenancy.listOperators,
    createProject: tenancy.createProject,
    listProjects: tenancy.listProjects,
    createClient: clients.createClient,
    listClients: clients.listClients,
    rotateClientSecret: clients.rotateClientSecret,
    revokeClient: clients.revokeClient,
    rotateSigningKey: clients.rotateSigningKey,
    setProgramme: points.setProgramme,
    getProgramme: points.getProgramme,
    setBudget: points.setBudget,
    getBudget: points.getBudget,
    listBudgets: points.listBudgets,
    setEarningRule: points.setEarningRule,
    listEarningRules: points.listEarningRules,
    issuePoints: points.issuePoints,
    getBalance: points.getBalance,
    createCampaign: marketing.createCampaign,
    updateCampaign: marketing.updateCampaign,
    getCampaign: marketing.getCampaign,
    listCampaigns: marketing.listCampaigns,
    generateCodes: marketing.generateCodes,
    getCodeBatch: marketing.getCodeBatch,
    exportCodes: marketing.exportCodes,
    listDatasets: data.listDatasets,
    classifyField: data.classifyField,
    scanDataset: data.scanDataset,
    issueGrant: data.issueGrant,
    listGrants: data.listGrants,
    revokeGrant: data.revokeGrant,
    exportAccessLog: data.exportAccessLog,
    createCheckout: payment.createCheckout,
    getCheckout: payment.getCheckout,
    cancelCheckout: payment.cancelCheckout,
    refundCheckout: payment.refundCheckout,
    registerDevice: iot.registerDevice,
    getDevice: iot.getDevice,
    listDevices: iot.listDevices,
    rotateDeviceCredentials: iot.rotateDeviceCredentials,
    revokeDevice: iot.revokeDevice,
    sendCommand: commands.sendCommand,
    getCommand: commands.getCommand,
    getParkingSession: parking.getParkingSession,
    createLot: parking.createLot,
    getLot: parking.getLot,
    setParkingTariff: parking.setParkingTariff,
    issuePass: parking.issuePass,
    getChargingSession: charging.getChargingSession,
    payChargingSession: charging.payChargingSession,
    configureCharger: charging.configureCharger,
    getCharger: charging.getCharger,
    bindDoor: access.bindDoor,
    close: () => {
      payment.close();
      tenancy.close();
      clients.close();
      points.close();
      marketing.close();
      data.close();
      iot.close();
      commands.close();
      parking.close();
      charging.close();
      access.close();
    },
  };
}

/** Signs in with the credentials and returns the API. */
export async function connectIdentity(
  endpoints: Endpoints,
  credentials: ClientCredentials,
): Promise<IdentityApi> {
  const token = await fetchToken(endpoints.httpUrl, credentials);
  return identityApi(
    endpoints.grpcAddress,
    token.access_token,
    endpoints.pointsGrpcAddress,
    endpoints.marketingGrpcAddress,
    endpoints.dataGrpcAddress,
    endpoints.paymentGrpcAddress,
    endpoints.iotGrpcAddress,
  );
}
