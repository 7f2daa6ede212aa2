import { ClientStatus } from '@citybase/contracts/citybase/identity/v1/clients';
import { ProjectKind } from '@citybase/contracts/citybase/identity/v1/tenancy';
import {
  enumName,
  renderClient,
  renderOperator,
  renderProject,
  renderSigningKey,
  timestampText,
  toJsonText,
} from './render';

const ts = (seconds: bigint, nanos = 0) => ({ seconds, nanos });

describe('timestampText', () => {
  it.each([
    [ts(0n), '1970-01-01T00:00:00Z'],
    [ts(1_767_323_045n), '2026-01-02T03:04:05Z'],
    [ts(1_767_323_045n, 120_000_000), '2026-01-02T03:04:05.120Z'],
    [ts(1_767_323_045n, 123_456_000), '2026-01-02T03:04:05.123456Z'],
    [ts(1_767_323_045n, 123_456_789), '2026-01-02T03:04:05.123456789Z'],
    [ts(1_767_323_045n, 1), '2026-01-02T03:04:05.000000001Z'],
    [ts(-1n, 500_000_000), '1969-12-31T23:59:59.500Z'],
    [ts(-62_135_596_800n), '0001-01-01T00:00:00Z'],
    [ts(253_402_300_799n, 999_999_999), '9999-12-31T23:59:59.999999999Z'],
  ])('%j -> %s', (value, text) => {
    expect(timestampText(value)).toBe(text);
  });

  it('unset is null', () => {
    expect(timestampText(undefined)).toBeNull();
  });

  it('refuses values outside the Timestamp range', () => {
    expect(() => timestampText(ts(253_402_300_800n))).toThrow(RangeError);
    expect(() => timestampText(ts(-62_135_596_801n))).toThrow(RangeError);
    expect(() => timestampText(ts(0n, 1_000_000_000))).toThrow(RangeError);
    expect(() => timestampText(ts(0n, -1))).toThrow(RangeError);
  });
});

describe('enumName', () => {
  it('drops the prefix', () => {
    expect(enumName(ProjectKind, ProjectKind.PROJECT_KIND_RESIDENTIAL, 'PROJECT_KIND_')).toBe('RESIDENTIAL');
    expect(enumName(ProjectKind, ProjectKind.PROJECT_KIND_CHARGING, 'PROJECT_KIND_')).toBe('CHARGING');
    expect(enumName(ClientStatus, ClientStatus.CLIENT_STATUS_REVOKED, 'CLIENT_STATUS_')).toBe('REVOKED');
    expect(enumName(ProjectKind, ProjectKind.PROJECT_KIND_UNSPECIFIED, 'PROJECT_KIND_')).toBe('UNSPECIFIED');
  });

  it('shows a value this build does not know as its number', () => {
    expect(enumName(ProjectKind, 42, 'PROJECT_KIND_')).toBe('42');
    expect(enumName(ProjectKind, ProjectKind.UNRECOGNIZED, 'PROJECT_KIND_')).toBe('-1');
  });
});

describe('toJsonText', () => {
  it('writes bigint (int64) values as decimal strings, beyond 2^53 exactly', () => {
    const text = toJsonText({ amount_minor: 9_007_199_254_740_993n, list: [-5n], n: 1, s: 'x' });
    expect(JSON.parse(text)).toEqual({ amount_minor: '9007199254740993', list: ['-5'], n: 1, s: 'x' });
    expect(text.endsWith('}\n')).toBe(true);
  });
});

describe('message renderers', () => {
  it('operator', () => {
    expect(renderOperator({ operatorId: 'op-1', name: 'Sunshine', createdAt: ts(1_767_323_045n) })).toEqual({
      operator_id: 'op-1',
      name: 'Sunshine',
      created_at: '2026-01-02T03:04:05Z',
    });
    expect(renderOperator(undefined)).toBeNull();
  });

  it('project: kind by name', () => {
    expect(
      renderProject({
        projectId: 'p-1',
        operatorId: 'op-1',
        name: 'North Park',
        kind: ProjectKind.PROJECT_KIND_PARK,
        createdAt: ts(1_767_323_045n, 5_000_000),
      }),
    ).toEqual({
      project_id: 'p-1',
      operator_id: 'op-1',
      name: 'North Park',
      kind: 'PARK',
      created_at: '2026-01-02T03:04:05.005Z',
    });
  });

  it('client: status by name, unset timestamps null, tenancy always present', () => {
    expect(
      renderClient({
        clientId: 'cb_a',
        name: 'app',
        scopes: ['identity:tenancy.read'],
        tenancy: { operatorIds: ['op-1'], projectIds: [] },
        status: ClientStatus.CLIENT_STATUS_ACTIVE,
        createdAt: ts(1n),
        secretRotatedAt: undefined,
        revokedAt: undefined,
        createdByClientId: 'cb_admin',
      }),
    ).toEqual({
      client_id: 'cb_a',
      name: 'app',
      scopes: ['identity:tenancy.read'],
      tenancy: { operator_ids: ['op-1'], project_ids: [] },
      status: 'ACTIVE',
      created_at: '1970-01-01T00:00:01Z',
      secret_rotated_at: null,
      revoked_at: null,
      created_by_client_id: 'cb_admin',
    });
    expect(
      renderClient({
        clientId: 'cb_b',
        name: 'b',
        scopes: [],
        tenancy: undefined,
        status: ClientStatus.CLIENT_STATUS_REVOKED,
        createdAt: ts(1n),
        secretRotatedAt: ts(2n),
        revokedAt: ts(3n),
        createdByClientId: '',
      }),
    ).toMatchObject({
      tenancy: { operator_ids: [], project_ids: [] },
      status: 'REVOKED',
      secret_rotated_at: '1970-01-01T00:00:02Z',
      revoked_at: '1970-01-01T00:00:03Z',
    });
  });

  it('signing key', () => {
    expect(renderSigningKey({ kid: 'k1', createdAt: ts(10n), retiredAt: undefined })).toEqual({
      kid: 'k1',
      created_at: '1970-01-01T00:00:10Z',
      retired_at: null,
    });
  });
});
