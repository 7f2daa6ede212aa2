import { randomUUID } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import type { Client } from 'pg';
import { AccessServiceService } from '@citybase/contracts/citybase/identity/v1/access';
import { PeopleServiceService, StaffRole } from '@citybase/contracts/citybase/identity/v1/people';
import {
  PromiseClient,
  rowCounts,
  ServiceHarness,
  startServiceHarness,
  TestIssuer,
} from '@citybase/platform/testing';
import { definition } from '../src/definition';
import { insertMerchant, newPhone, Tenant } from './people-fixtures';
export { errorField, grpcError as failure } from '@citybase/platform/testing';

/** Every scope the people and access RPCs declare, without identity:pii.read. */
export const ALL_SCOPES = [
  'identity:people.write',
  'identity:people.verify',
  'identity:people.read',
  'identity:staff.write',
  'identity:grants.write',
  'identity:grants.read',
];
export const PII_READ = 'identity:pii.read';

/** The identity service under test with its database, a token issuer and clients of both services. */
export interface IdentityHarness extends ServiceHarness<typeof PeopleServiceService> {
  people: PromiseClient<typeof PeopleServiceService>;
  access: PromiseClient<typeof AccessServiceService>;
}

export async function startIdentity(label: string): Promise<IdentityHarness> {
  const h = await startServiceHarness({ definition, grpcService: PeopleServiceService, label });
  return { ...h, people: h.client(PeopleServiceService), access: h.client(AccessServiceService) };
}

/** A caller: one API client (fixed sub, so request ids replay) bound to some tenancy. */
export function caller(
  issuer: TestIssuer,
  tenancy: { operators?: string[]; projects?: string[] },
  opts: { pii?: boolean; scopes?: string[]; sub?: string } = {},
): () => Metadata {
  const sub = opts.sub ?? `client-${randomUUID()}`;
  const scopes = [...(opts.scopes ?? ALL_SCOPES), ...(opts.pii ? [PII_READ] : [])];
  return () => issuer.metadata({ sub, scopes, ...tenancy });
}

/** Row counts of every table the people and access features write, and of the outbox. */
export function counts(pg: Client): Promise<Record<string, number>> {
  return rowCounts(pg, [
    'residents',
    'households',
    'household_members',
    'staff',
    'couriers',
    'door_grants',
    'idempotency_keys',
    'outbox',
  ]);
}

/** The outbox rows of one event type, oldest first. */
export async function outboxOf(
  pg: Client,
  eventType: string,
): Promise<{ payload: Buffer; partition_key: string; headers: unknown }[]> {
  const { rows } = await pg.query<{ payload: Buffer; partition_key: string; headers: unknown }>(
    'SELECT payload, partition_key, headers FROM outbox WHERE event_type = $1 ORDER BY id',
    [eventType],
  );
  return rows;
}

/** JSON of a response, with bigints as strings, for scanning. */
export function json(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Registers a staff member of a project through the RPC; returns its id. */
export async function registerStaff(
  h: IdentityHarness,
  md: () => Metadata,
  t: { operatorId: string; projectId?: string; merchantId?: string },
  role: StaffRole = StaffRole.STAFF_ROLE_PROPERTY_STAFF,
): Promise<string> {
  const { staff } = await h.people.registerStaff(
    {
      requestId: randomUUID(),
      tenancy: { operatorId: t.operatorId, projectId: t.projectId ?? '', merchantId: t.merchantId ?? '' },
      role,
      name: 'Staff member',
      phone: newPhone(),
    },
    md(),
  );
  if (!staff) throw new Error('RegisterStaff returned no staff');
  return staff.staffId;
}

/**
 * Staff of the tenant who are not active property staff of t.projectId, each registered through the
 * RPC: merchant staff of a merchant there, an operator admin, and property staff of the project
 * made inactive.
 */
export async function ineligibleStaff(
  h: IdentityHarness,
  md: () => Metadata,
  t: Tenant,
  merchantRegisteredBy: string,
): Promise<{ merchantStaff: string; admin: string; inactive: string }> {
  const merchantId = await insertMerchant(h.pg, t, merchantRegisteredBy);
  const merchantStaff = await registerStaff(
    h,
    md,
    { operatorId: t.operatorId, projectId: t.projectId, merchantId },
    StaffRole.STAFF_ROLE_MERCHANT_STAFF,
  );
  const admin = await registerStaff(h, md, { operatorId: t.operatorId }, StaffRole.STAFF_ROLE_OPERATOR_ADMIN);
  const inactive = await registerStaff(h, md, { operatorId: t.operatorId, projectId: t.projectId });
  await h.pg.query('UPDATE staff SET active = false WHERE staff_id = $1', [inactive]);
  return { merchantStaff, admin, inactive };
}
