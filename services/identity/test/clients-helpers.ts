import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { type Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { REPO_ROOT, testEndpoints, TEST_IDENTITY_MASTER_KEY } from '@citybase/platform/testing';
import { grpcError } from '@citybase/platform/testing';
export { grpcError } from '@citybase/platform/testing';

/** Runs `node services/identity/dist/admin.js <args>` with the identity environment of a test. */
export function runAdmin(
  args: string[],
  env: { DATABASE_URL: string; KAFKA_TOPIC_PREFIX: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'services', 'identity', 'dist', 'admin.js'), ...args],
      {
        env: {
          PATH: process.env.PATH ?? '',
          CITY_ID: 'test-city',
          IDENTITY_MASTER_KEY: TEST_IDENTITY_MASTER_KEY,
          KAFKA_BROKERS: testEndpoints.kafkaBrokers().join(','),
          REDIS_URL: testEndpoints.redisUrl(),
          ...env,
        },
        timeout: 60_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface ExpectedError {
  code: status;
  /** citybase-error-field, if the error names a field. */
  field?: string | RegExp;
  domainCode?: string;
}

export async function expectGrpcError(
  call: Promise<unknown>,
  expected: ExpectedError,
): Promise<ServiceError> {
  const err = await grpcError(call);
  const summary = `${status[err.code]} ${err.details} field=${String(field(err.metadata))}`;
  expect({ code: status[err.code], summary }).toEqual({ code: status[expected.code], summary });
  if (expected.field instanceof RegExp) expect(field(err.metadata)).toMatch(expected.field);
  else if (expected.field !== undefined) expect(field(err.metadata)).toBe(expected.field);
  if (expected.domainCode !== undefined) {
    expect(err.metadata.get('citybase-error-code')).toEqual([expected.domainCode]);
  }
  return err;
}

function field(md: Metadata | undefined): string | undefined {
  const v = md?.get('citybase-error-field')[0];
  return typeof v === 'string' ? v : undefined;
}

/** POST /oauth/token with a form body and optional Basic credentials. */
export async function postToken(
  httpUrl: string,
  form: Record<string, string>,
  basic?: { id: string; secret: string },
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) {
    const pair = `${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  }
  const res = await fetch(`${httpUrl}/oauth/token`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** The JWT header of a token (not verified). */
export function jwtHeader(token: string): { kid?: string; alg?: string } {
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
    kid?: string;
    alg?: string;
  };
}
