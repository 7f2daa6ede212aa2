import { randomInt, randomUUID } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import type { Client } from 'pg';
import { CITY_ADMIN_SCOPE } from '@citybase/platform';
import { rowCounts, type TestIssuer } from '@citybase/platform/testing';
export { errorField, grpcError as failure } from '@citybase/platform/testing';

// Fixtures and probes of the TenancyService integration tests.

export const READ_WRITE_SCOPES = [
  'identity:tenancy.read',
  'identity:tenancy.write',
  'identity:merchants.read',
  'identity:merchants.write',
];
export const PII_READ = 'identity:pii.read';

/** Who calls: a fixed client id per caller, so request ids form one namespace across its calls. */
export interface Caller {
  sub: string;
  metadata(): Metadata;
}

export function cityAdmin(issuer: TestIssuer, opts: { pii?: boolean; sub?: string } = {}): Caller {
  const sub = opts.sub ?? `city-admin-${randomUUID()}`;
  const scopes = [CITY_ADMIN_SCOPE, ...READ_WRITE_SCOPES, ...(opts.pii ? [PII_READ] : [])];
  return { sub, metadata: () => issuer.metadata({ sub, scopes }) };
}

export function tenantClient(
  issuer: TestIssuer,
  tenancy: { operators?: string[]; projects?: string[] },
  opts: { pii?: boolean; extraScopes?: string[] } = {},
): Caller {
  const sub = `tenant-${randomUUID()}`;
  const scopes = [...READ_WRITE_SCOPES, ...(opts.pii ? [PII_READ] : []), ...(opts.extraScopes ?? [])];
  return { sub, metadata: () => issuer.metadata({ sub, scopes, ...tenancy }) };
}

/** A valid 18-character mainland resident ID number (GB 11643 check digit), different per call. */
export function idNumber(): string {
  const body = `110105${1950 + randomInt(50)}0${1 + randomInt(9)}1${randomInt(10)}${String(randomInt(1000)).padStart(3, '0')}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = weights.reduce((acc, w, i) => acc + w * Number(body[i]), 0);
  return body + '10X98765432'[sum % 11];
}

/** A valid mainland mobile number, different per call. */
export function phone(): string {
  return `139${String(randomInt(100_000_000)).padStart(8, '0')}`;
}

/**
 * Inserts a staff row directly (PeopleService, which owns staff, is another feature). Fixture
 * only: phone_enc / phone_hash are arbitrary bytes and phone_masked a fixed mask, because nothing
 * in the tenancy feature reads a staff member's phone.
 */
export async function insertStaff(
  pg: Client,
  row: {
    operatorId: string;
    projectId: string | null;
    role: 1 | 2 | 3;
    merchantId?: string;
    active?: boolean;
  },
): Promise<string> {
  const staffId = randomUUID();
  await pg.query(
    `INSERT INTO staff (staff_id, operator_id, project_id, merchant_id, role, name, phone_enc, phone_hash,
                        phone_masked, active)
     VALUES ($1, $2, $3, $4, $5, 'Fixture Staff', '\\x00'::bytea, '\\x01'::bytea, '138****0000', $6)`,
    [staffId, row.operatorId, row.projectId, row.merchantId ?? null, row.role, row.active ?? true],
  );
  return staffId;
}

export const TABLES = [
  'operators',
  'projects',
  'buildings',
  'units',
  'agencies',
  'staff',
  'merchants',
  'idempotency_keys',
  'outbox',
] as const;

/** Row counts of every tenancy table and of the outbox: "nothing was written" compares two of these. */
export function counts(pg: Client): Promise<Record<string, number>> {
  return rowCounts(pg, TABLES);
}

/** The event types in the outbox under one partition key, in commit order. */
export async function eventTypes(pg: Client, key: string): Promise<string[]> {
  const { rows } = await pg.query<{ event_type: string }>(
    'SELECT event_type FROM outbox WHERE partition_key = $1 ORDER BY id',
    [key],
  );
  return rows.map((r) => r.event_type);
}

/** JSON of a response, with bigints (timestamps) as strings, for scanning for values. */
export function json(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
