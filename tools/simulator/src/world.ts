import type { Json } from './descriptor-rpc';

/** Ids of an operator's small real world (see buildWorld). */
export interface World {
  operatorId: string;
  projectId: string;
  buildingId: string;
  unitId: string;
  staffId: string;
  merchantId: string;
  residentId: string;
  householdId: string;
  courierId: string;
  grantId: string;
  clientId: string;
}

/** The people of a world who have a phone number or an ID number. */
export type Person = 'staff' | 'owner' | 'resident' | 'courier';

export interface WorldSpec {
  /** First word of every name in the world, e.g. `Alpha`: "Alpha Property Co", "Alpha Gardens"... */
  label: string;
  /** A new request id (each create is a new request). */
  requestId(): string;
  phone(who: Person): string;
  idNumber(who: Exclude<Person, 'staff'>): string;
  /** Build the world under this existing operator instead of creating one (a second community of it). */
  operatorId?: string;
}

/** The names buildWorld gives the things and people it creates. */
export function worldNames(label: string) {
  return {
    operator: `${label} Property Co`,
    project: `${label} Gardens`,
    building: `${label} Tower 1`,
    staff: `${label} Staff`,
    merchant: `${label} Noodles`,
    owner: `${label} Owner`,
    resident: `${label} Resident`,
    courier: `${label} Courier`,
    client: `${label} App`,
  };
}

/** An RPC that must succeed: request and reply body in camelCase, the RPC by path. */
export type OkCall = (path: string, request: Json) => Promise<Json>;

const T = '/citybase.identity.v1.TenancyService/';
const P = '/citybase.identity.v1.PeopleService/';

/**
 * Builds, through identity's real RPCs, an operator with a project, a building with a unit, a staff
 * member, a merchant, a verified resident heading a household of that unit, a courier, a door
 * grant of the resident and an API client of the operator.
 */
export async function buildWorld(ok: OkCall, spec: WorldSpec): Promise<World> {
  const names = worldNames(spec.label);
  /** Creates something with a new request id; resolves with the id of what the reply holds under `key`. */
  const create = async (path: string, key: string, request: Json): Promise<string> => {
    const reply = await ok(path, { requestId: spec.requestId(), ...request });
    return (reply[key] as Json)[`${key}Id`] as string;
  };
  const operatorId =
    spec.operatorId ?? (await create(`${T}CreateOperator`, 'operator', { name: names.operator }));
  const projectId = await create(`${T}CreateProject`, 'project', {
    operatorId,
    name: names.project,
    kind: 1,
  });
  const buildingId = await create(`${T}CreateBuilding`, 'building', { projectId, name: names.building });
  const unitId = await create(`${T}CreateUnit`, 'unit', { buildingId, name: '1-302', floor: 3 });
  const staffId = await create(`${P}RegisterStaff`, 'staff', {
    tenancy: { operatorId, projectId },
    role: 1,
    name: names.staff,
    phone: spec.phone('staff'),
  });
  const merchantId = await create(`${T}RegisterMerchant`, 'merchant', {
    projectId,
    name: names.merchant,
    location: 'gate 1',
    ownerName: names.owner,
    ownerIdNumber: spec.idNumber('owner'),
    contactPhone: spec.phone('owner'),
    leaseRef: 'L-1',
    businessScope: 'noodles',
    registeredByStaffId: staffId,
  });
  const residentId = await create(`${P}RegisterResident`, 'resident', {
    projectId,
    name: names.resident,
    phone: spec.phone('resident'),
    idNumber: spec.idNumber('resident'),
  });
  await ok(`${P}VerifyResident`, { requestId: spec.requestId(), residentId, verifiedByStaffId: staffId });
  const householdId = await create(`${P}CreateHousehold`, 'household', {
    unitId,
    headResidentId: residentId,
  });
  const courierId = await create(`${P}RegisterCourier`, 'courier', {
    projectId,
    name: names.courier,
    phone: spec.phone('courier'),
    idNumber: spec.idNumber('courier'),
    photoRef: `photos/${spec.label.charAt(0).toLowerCase()}.jpg`,
    employer: `${spec.label} Express`,
  });
  const grantId = await create('/citybase.identity.v1.AccessService/IssueDoorGrant', 'grant', {
    residentId,
    buildingId,
    issuedByStaffId: staffId,
  });
  const clientId = await create('/citybase.identity.v1.ClientService/CreateClient', 'client', {
    name: names.client,
    scopes: ['payment:write'],
    tenancy: { operatorIds: [operatorId] },
  });
  return {
    operatorId,
    projectId,
    buildingId,
    unitId,
    staffId,
    merchantId,
    residentId,
    householdId,
    courierId,
    grantId,
    clientId,
  };
}

/** One more household of a world: a unit, its head resident verified by the world's staff, a door grant. */
export interface Household {
  unitId: string;
  residentId: string;
  householdId: string;
  grantId: string;
}

export async function addHousehold(
  ok: OkCall,
  world: Pick<World, 'projectId' | 'buildingId' | 'staffId'>,
  spec: {
    requestId(): string;
    unitName: string;
    floor: number;
    residentName: string;
    phone: string;
    idNumber: string;
  },
): Promise<Household> {
  const create = async (path: string, key: string, request: Json): Promise<string> => {
    const reply = await ok(path, { requestId: spec.requestId(), ...request });
    return (reply[key] as Json)[`${key}Id`] as string;
  };
  const unitId = await create(`${T}CreateUnit`, 'unit', {
    buildingId: world.buildingId,
    name: spec.unitName,
    floor: spec.floor,
  });
  const residentId = await create(`${P}RegisterResident`, 'resident', {
    projectId: world.projectId,
    name: spec.residentName,
    phone: spec.phone,
    idNumber: spec.idNumber,
  });
  await ok(`${P}VerifyResident`, {
    requestId: spec.requestId(),
    residentId,
    verifiedByStaffId: world.staffId,
  });
  const householdId = await create(`${P}CreateHousehold`, 'household', {
    unitId,
    headResidentId: residentId,
  });
  const grantId = await create('/citybase.identity.v1.AccessService/IssueDoorGrant', 'grant', {
    residentId,
    buildingId: world.buildingId,
    issuedByStaffId: world.staffId,
  });
  return { unitId, residentId, householdId, grantId };
}

/**
 * A family member of a household (identity's BindHouseholdMember, by phone): a resident of the
 * household's project, verified by the world's staff, who then shares the household's privileges
 * (its door grants, its wallet). Resolves with the member's resident id.
 */
export async function addHouseholdMember(
  ok: OkCall,
  world: Pick<World, 'projectId' | 'staffId'>,
  householdId: string,
  spec: { requestId(): string; name: string; phone: string; idNumber: string; relation: string },
): Promise<string> {
  const registered = await ok(`${P}RegisterResident`, {
    requestId: spec.requestId(),
    projectId: world.projectId,
    name: spec.name,
    phone: spec.phone,
    idNumber: spec.idNumber,
  });
  const residentId = (registered.resident as Json).residentId as string;
  await ok(`${P}VerifyResident`, {
    requestId: spec.requestId(),
    residentId,
    verifiedByStaffId: world.staffId,
  });
  await ok(`${P}BindHouseholdMember`, {
    requestId: spec.requestId(),
    householdId,
    phone: spec.phone,
    relation: spec.relation,
  });
  return residentId;
}
