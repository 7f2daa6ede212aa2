import { randomBytes, randomUUID } from 'node:crypto';
import { Actuator, DeviceCredentials, PlateCamera, SimDevice } from '@citybase/device-sim';
import { cityPeriod } from '@citybase/platform';
import { CityApi, RpcError, TokenSource } from './api';
import type { Json } from './descriptor-rpc';
import { validIdNumber } from './id-numbers';
import { GroupDeal, openGroupDeal } from './ops';
import type { CityOptions } from './options';
import type { Random } from './random';
import { addHousehold, addHouseholdMember, buildWorld, Household, World } from './world';

/** A household of the city: its head resident and the family members bound to it. */
export interface CityHousehold extends Household {
  /** Resident ids of its members (identity's BindHouseholdMember; points' household members). */
  members: string[];
}

/** A community (project) of the simulated city, with its people and its devices. */
export interface Community {
  label: string;
  world: World;
  /** Every household, the world's own first (its head resident is the world's resident). */
  households: CityHousehold[];
  lotId: string;
  entryCameraId: string;
  exitCameraId: string;
  /** The lot's plate cameras, connected with their own credentials: reads go over MQTT (PLATE_READ). */
  entryCamera: PlateCamera;
  exitCamera: PlateCamera;
  gate: Actuator;
  door: Actuator;
  sensors: { device: SimDevice; kind: 'smoke' | 'temperature' }[];
  /** The group buys of the community's merchant, oldest first (the day of life opens more). */
  deals: GroupDeal[];
}

export interface Operator {
  operatorId: string;
  communities: Community[];
  /** 5 CNY off an EV charge, claimable without limit. */
  chargingCampaignId: string;
  /** The flash sale: few coupons, many residents. */
  flashCampaignId: string;
  flashCoupons: bigint;
}

/** Everything the day of life acts on. */
export interface City {
  runId: string;
  period: string;
  operators: Operator[];
  agency: { agencyId: string; clientId: string; grantId: string; tokens: TokenSource };
  /** Every device connected to the project's broker (closed when the run ends). */
  devices: SimDevice[];
}

const T = '/citybase.identity.v1.TenancyService/';
const PAY = '/citybase.payment.v1.PaymentService/';
const PTS = '/citybase.points.v1.PointsService/';
const MKT = '/citybase.marketing.v1.MarketingService/';
const IOT = '/citybase.iot.v1.IotService/';
const PARK = '/citybase.iot.v1.ParkingService/';
const ACCESS = '/citybase.iot.v1.AccessService/';
const DATA = '/citybase.data.v1.DataService/';

/** Points given to each resident when the city is built (spent on charging). */
export const WELCOME_POINTS = 3_000n;
/** Points per operator's budget in the period (welcome points + earnings on property fees). */
export const OPERATOR_BUDGET = 50_000_000n;

const rid = () => randomUUID();
const nowSeconds = () => Math.floor(Date.now() / 1000);
const idOf = (body: Json, key: string, field = `${key}Id`): string => (body[key] as Json)[field] as string;

/**
 * Builds a new city through the public gRPC APIs only, named after this run (`runId`), so runs
 * against the same local city never collide: every name and request id is new.
 */
export async function buildCity(
  api: CityApi,
  options: CityOptions,
  random: Random,
  log: (line: string) => void,
): Promise<City> {
  const runId = `${options.seed}-${randomBytes(3).toString('hex')}`;
  const ok = (path: string, request: Json) => api.ok(path, request);
  const period = cityPeriod(new Date());
  const devices: SimDevice[] = [];
  let person = 0;
  const phone = () => `139${random.digits(8)}`;
  const idNumber = () => {
    person += 1;
    const birth = `19${random.int(50, 99)}0${random.int(1, 9)}1${random.int(0, 9)}`;
    return validIdNumber('110105', birth, String(person % 1000).padStart(3, '0'));
  };

  // payment: one sandbox channel of this run; each community is routed to it (its own merchant account)
  const channelId = `sim-${runId}`.slice(0, 64);
  await ok(`${PAY}RegisterChannel`, {
    requestId: rid(),
    channelId,
    kind: 1,
    displayName: `Simulator sandbox ${runId}`,
    endpoint: api.endpoints.sandbox,
  });

  // points: the city's budget must cover what this run's operators are allotted
  const operatorsBudget = OPERATOR_BUDGET * BigInt(options.operators);
  const cityBudget = await api.call(`${PTS}GetBudget`, { tenancy: {}, period });
  const current = cityBudget.code === 0 ? ((cityBudget.body?.budget ?? {}) as Json) : {};
  const allotted = BigInt((current.allotted as string | undefined) ?? '0');
  const toChildren = BigInt((current.allottedToChildren as string | undefined) ?? '0');
  const needed = toChildren + operatorsBudget;
  if (allotted < needed)
    await ok(`${PTS}SetBudget`, { requestId: rid(), tenancy: {}, period, allotted: String(needed) });

  const operators: Operator[] = [];
  for (let o = 0; o < options.operators; o++) {
    const operatorLabel = `Sim ${runId} Op${o + 1}`;
    const communities: Community[] = [];
    let operatorId: string | undefined;
    for (let c = 0; c < options.communitiesPerOperator; c++) {
      const label = `${operatorLabel} C${c + 1}`;
      const world = await buildWorld(ok, {
        label,
        requestId: rid,
        phone: () => phone(),
        idNumber: () => idNumber(),
        operatorId,
      });
      operatorId = world.operatorId;
      const households: CityHousehold[] = [
        {
          unitId: world.unitId,
          residentId: world.residentId,
          householdId: world.householdId,
          grantId: world.grantId,
          members: [],
        },
      ];
      for (let h = 1; h < options.householdsPerCommunity; h++) {
        households.push(
          await addHousehold(ok, world, {
            requestId: rid,
            unitName: `${1 + Math.floor(h / 4)}-${String(h).padStart(3, '0')}`,
            floor: 1 + Math.floor(h / 4),
            residentName: `${label} Resident ${h + 1}`,
            phone: phone(),
            idNumber: idNumber(),
          }).then((hh) => ({ ...hh, members: [] as string[] })),
        );
      }
      // every other household has a family member, bound by phone: they share its door grant
      for (const [h, hh] of households.entries()) {
        if (h % 2 !== 0) continue;
        hh.members.push(
          await addHouseholdMember(ok, world, hh.householdId, {
            requestId: rid,
            name: `${label} Resident ${h + 1} Spouse`,
            phone: phone(),
            idNumber: idNumber(),
            relation: 'spouse',
          }),
        );
      }
      const community = await equipCommunity(api, world, label, households, channelId, options, devices);
      // the merchant's first group buys: one that can fill, one that cannot (more open during the day)
      await openGroupDeal(api, community, 'popular');
      await openGroupDeal(api, community, 'niche');
      communities.push(community);
      log(
        `built ${label}: ${households.length} households, ${3 + 1 + options.sensorsPerCommunity} devices, ` +
          `${community.deals.length} group buys`,
      );
    }
    operators.push(await operatorProgrammes(api, operatorId!, operatorLabel, period, communities));
  }

  const agency = await agencyWithGrant(
    api,
    runId,
    operators.map((o) => o.operatorId),
  );
  log(`built the agency ${agency.agencyId} with a feed grant ${agency.grantId}`);
  return { runId, period, operators, agency, devices };
}

async function equipCommunity(
  api: CityApi,
  world: World,
  label: string,
  households: CityHousehold[],
  channelId: string,
  options: CityOptions,
  devices: SimDevice[],
): Promise<Community> {
  const ok = (path: string, request: Json) => api.ok(path, request);
  const tenancy = { operatorId: world.operatorId, projectId: world.projectId };
  // the community's merchant account at the sandbox channel, and its routing
  const merchantNo = `sim-${world.projectId}`.slice(0, 64);
  const key = randomUUID() + randomUUID();
  const res = await fetch(`${api.endpoints.sandbox}/sandbox/merchants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ merchantNo, key }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`the sandbox channel refused merchant ${merchantNo}: HTTP ${res.status}`);
  await ok(`${PAY}ConfigureProjectChannel`, {
    requestId: rid(),
    tenancy,
    channelId,
    merchantNo,
    credentials: key,
    enabled: true,
  });
  await ok(`${PAY}SetRoutingRules`, {
    requestId: rid(),
    tenancy,
    rules: [{ channelId, priority: 0, weight: 1 }],
  });

  // devices, registered through iot; those that connect do so with their own credentials
  const register = async (kind: number, name: string) => {
    const reply = await ok(`${IOT}RegisterDevice`, {
      requestId: rid(),
      tenancy,
      kind,
      name: `${label} ${name}`,
      serialNumber: `SN-${randomBytes(6).toString('hex')}`,
      profile: '',
    });
    return {
      deviceId: idOf(reply, 'device'),
      credentials: reply.credentials as unknown as DeviceCredentials,
    };
  };
  const connect = async (credentials: DeviceCredentials) => {
    const device = new SimDevice(credentials);
    await device.connect();
    devices.push(device);
    return device;
  };
  const entry = await register(3, 'entry camera');
  const exit = await register(3, 'exit camera');
  const entryCamera = new PlateCamera(await connect(entry.credentials));
  const exitCamera = new PlateCamera(await connect(exit.credentials));
  const gateReg = await register(2, 'exit gate');
  const gate = new Actuator(await connect(gateReg.credentials));
  const lotId = idOf(
    await ok(`${PARK}CreateLot`, {
      requestId: rid(),
      // the community's merchant collects the parking fees
      tenancy: { ...tenancy, merchantId: world.merchantId },
      name: `${label} lot`,
      capacity: 500,
      entryCameraId: entry.deviceId,
      exitCameraId: exit.deviceId,
      exitGateId: gateReg.deviceId,
      tariff: {
        freeMinutes: 15,
        hourlyRate: { currency: 'CNY', amountMinor: '500' },
        dailyCap: { currency: 'CNY', amountMinor: '3000' },
      },
    }),
    'lot',
  );
  const doorReg = await register(1, 'entrance door');
  const door = new Actuator(await connect(doorReg.credentials));
  await ok(`${ACCESS}BindDoor`, {
    requestId: rid(),
    tenancy,
    deviceId: doorReg.deviceId,
    buildingId: world.buildingId,
  });
  const sensors: Community['sensors'] = [];
  for (let s = 0; s < options.sensorsPerCommunity; s++) {
    const kind = s % 2 === 0 ? 'smoke' : 'temperature';
    const reg = await register(kind === 'smoke' ? 5 : 6, `${kind} sensor ${s + 1}`);
    sensors.push({ device: await connect(reg.credentials), kind });
  }
  return {
    label,
    world,
    households,
    lotId,
    entryCameraId: entry.deviceId,
    exitCameraId: exit.deviceId,
    entryCamera,
    exitCamera,
    gate,
    door,
    sensors,
    deals: [],
  };
}

async function operatorProgrammes(
  api: CityApi,
  operatorId: string,
  label: string,
  period: string,
  communities: Community[],
): Promise<Operator> {
  const ok = (path: string, request: Json) => api.ok(path, request);
  const tenancy = { operatorId };
  await ok(`${PTS}SetProgramme`, {
    requestId: rid(),
    programme: {
      tenancy,
      pointValue: { currency: 'CNY', amountMinor: '1' },
      lotLifetimeDays: 365,
      refundWindowHours: 0,
      shortfallPolicy: 1,
      expiryNoticeDays: 30,
      tiers: [],
      tierWindowDays: 365,
    },
  });
  await ok(`${PTS}SetBudget`, { requestId: rid(), tenancy, period, allotted: String(OPERATOR_BUDGET) });
  // property fees earn points: 1 point per yuan
  await ok(`${PTS}SetEarningRule`, {
    requestId: rid(),
    rule: { tenancy, scenario: 1, pointsPerYuan: 1, dailyCap: '0' },
  });
  // a member's earnings go to the household's pool, attributed to the member
  for (const c of communities)
    for (const h of c.households)
      if (h.members.length > 0)
        await ok(`${PTS}SetHouseholdMembers`, {
          requestId: rid(),
          tenancy,
          householdId: h.householdId,
          memberIds: h.members,
        });
  for (const c of communities)
    for (const h of c.households)
      await ok(`${PTS}IssuePoints`, {
        requestId: rid(),
        tenancy,
        holderId: h.residentId,
        points: String(WELCOME_POINTS),
        reason: 'WELCOME',
      });
  const campaign = async (name: string, extra: Json): Promise<string> => {
    const campaignId = idOf(
      await ok(`${MKT}CreateCampaign`, {
        requestId: rid(),
        campaign: {
          tenancy,
          name,
          funding: 2,
          claimFrom: { seconds: String(nowSeconds() - 3600), nanos: 0 },
          claimUntil: { seconds: String(nowSeconds() + 30 * 86_400), nanos: 0 },
          couponValidDays: 30,
          ...extra,
        },
      }),
      'campaign',
    );
    await ok(`${MKT}UpdateCampaign`, { requestId: rid(), tenancy, campaignId, status: 2 });
    return campaignId;
  };
  const residents = communities.reduce((n, c) => n + c.households.length, 0);
  const flashCoupons = BigInt(Math.max(5, Math.ceil(residents * 1.5)));
  const chargingCampaignId = await campaign(`${label} EV charging 5 off`, {
    discount: { amountOff: { currency: 'CNY', amountMinor: '500' } },
    maxCoupons: '1000000',
  });
  const flashCampaignId = await campaign(`${label} flash sale`, {
    discount: { amountOff: { currency: 'CNY', amountMinor: '2000' } },
    maxCoupons: String(flashCoupons),
    flashSale: true,
  });
  return { operatorId, communities, chargingCampaignId, flashCampaignId, flashCoupons };
}

async function agencyWithGrant(api: CityApi, runId: string, operatorIds: string[]): Promise<City['agency']> {
  const ok = (path: string, request: Json) => api.ok(path, request);
  const agencyId = idOf(
    await ok(`${T}CreateAgency`, { requestId: rid(), name: `Sim ${runId} Tax Bureau`, kind: 1 }),
    'agency',
  );
  const created = await ok('/citybase.identity.v1.ClientService/CreateClient', {
    requestId: rid(),
    name: `Sim ${runId} tax bureau feed`,
    scopes: ['data:feeds.pull'],
    // identity's clients name the tenancy they act in; the grant (city-wide) says what it may pull
    tenancy: { operatorIds },
  });
  const clientId = idOf(created, 'client');
  const secret = created.clientSecret as string;
  const grantId = idOf(
    await ok(`${DATA}IssueGrant`, {
      requestId: rid(),
      tenancy: {},
      agencyId,
      agencyClientId: clientId,
      datasets: [
        {
          datasetId: 'payment.payments',
          fields: [
            { name: 'district', masking: 1 },
            { name: 'amount_minor', masking: 6 },
          ],
        },
      ],
      purpose: 'simulated tax bureau: payments by district',
      validUntil: { seconds: String(nowSeconds() + 30 * 86_400), nanos: 0 },
      quotaRowsPerDay: '10000000',
    }),
    'grant',
  );
  return {
    agencyId,
    clientId,
    grantId,
    tokens: new TokenSource(api.endpoints.identityHttp, { client_id: clientId, client_secret: secret }),
  };
}

/** RpcError of a status, for the callers that tell an answer from an error. */
export const isStatus = (err: unknown, code: number): boolean => err instanceof RpcError && err.code === code;
