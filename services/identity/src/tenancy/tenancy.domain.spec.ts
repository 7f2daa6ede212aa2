import { CITY_ADMIN_SCOPE, pageOf, parsePage } from '@citybase/platform';
import { domainErrorOf, expectInvalid } from '@citybase/platform/testing';
import { AgencyKind, ProjectKind } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { visibilityOf } from '../shared/rows.domain';
import {
  assertCityAdmin,
  TENANCY_PAGES,
  toCreateAgencyCommand,
  toCreateBuildingCommand,
  toCreateOperatorCommand,
  toCreateProjectCommand,
  toCreateUnitCommand,
} from './tenancy.domain';

const A = '0b6f1e0c-0000-4000-8000-00000000000a';
const B = '0b6f1e0c-0000-4000-8000-00000000000b';

describe('tenancy commands', () => {
  it('accept valid requests, trimming names and lower-casing ids', () => {
    expect(toCreateOperatorCommand({ requestId: 'r', name: '  Green Property  ' })).toEqual({
      requestId: 'r',
      name: 'Green Property',
    });
    expect(
      toCreateProjectCommand({
        requestId: 'r',
        operatorId: A.toUpperCase(),
        name: 'Lakeside',
        kind: ProjectKind.PROJECT_KIND_PARK,
      }),
    ).toEqual({ requestId: 'r', operatorId: A, name: 'Lakeside', kind: ProjectKind.PROJECT_KIND_PARK });
    expect(toCreateBuildingCommand({ requestId: 'r', projectId: A, name: 'B1' })).toEqual({
      requestId: 'r',
      projectId: A,
      name: 'B1',
    });
    expect(toCreateUnitCommand({ requestId: 'r', buildingId: A, name: '1-302', floor: -10 }).floor).toBe(-10);
    expect(toCreateUnitCommand({ requestId: 'r', buildingId: A, name: '1-302', floor: 300 }).floor).toBe(300);
    expect(
      toCreateAgencyCommand({ requestId: 'r', name: 'Tax office', kind: AgencyKind.AGENCY_KIND_TAX }),
    ).toEqual({
      requestId: 'r',
      name: 'Tax office',
      kind: AgencyKind.AGENCY_KIND_TAX,
    });
  });

  it.each([
    ['empty request_id', () => toCreateOperatorCommand({ requestId: '', name: 'x' }), 'request_id'],
    ['empty name', () => toCreateOperatorCommand({ requestId: 'r', name: '   ' }), 'name'],
    [
      'operator name of 201',
      () => toCreateOperatorCommand({ requestId: 'r', name: 'x'.repeat(201) }),
      'name',
    ],
    [
      'malformed operator_id',
      () => toCreateProjectCommand({ requestId: 'r', operatorId: 'op-1', name: 'x', kind: 1 }),
      'operator_id',
    ],
    [
      'UNSPECIFIED kind',
      () => toCreateProjectCommand({ requestId: 'r', operatorId: A, name: 'x', kind: 0 }),
      'kind',
    ],
    [
      'unknown kind 99',
      () => toCreateProjectCommand({ requestId: 'r', operatorId: A, name: 'x', kind: 99 as ProjectKind }),
      'kind',
    ],
    [
      'building name of 101',
      () => toCreateBuildingCommand({ requestId: 'r', projectId: A, name: 'b'.repeat(101) }),
      'name',
    ],
    [
      'floor -11',
      () => toCreateUnitCommand({ requestId: 'r', buildingId: A, name: 'u', floor: -11 }),
      'floor',
    ],
    [
      'floor 301',
      () => toCreateUnitCommand({ requestId: 'r', buildingId: A, name: 'u', floor: 301 }),
      'floor',
    ],
    [
      'agency kind 6',
      () => toCreateAgencyCommand({ requestId: 'r', name: 'x', kind: 6 as AgencyKind }),
      'kind',
    ],
  ])('refuse %s naming the field', (_name, fn, field) => expectInvalid(fn, field));
});

describe('paging', () => {
  const T = '2026-01-02T03:04:05.123456Z';
  const { operators, projects } = TENANCY_PAGES;
  const legacy = (cursor: object) => Buffer.from(JSON.stringify(cursor)).toString('base64url');

  it('defaults to 50, allows up to 500, refuses the rest', () => {
    expect(parsePage(undefined, operators)).toEqual({ size: 50, after: undefined });
    expect(parsePage({ pageSize: 0, pageToken: '' }, operators)).toEqual({ size: 50, after: undefined });
    expect(parsePage({ pageSize: 500, pageToken: '' }, operators).size).toBe(500);
    expectInvalid(() => parsePage({ pageSize: 501, pageToken: '' }, operators), 'page.page_size');
    expectInvalid(() => parsePage({ pageSize: -1, pageToken: '' }, operators), 'page.page_size');
  });

  it('round-trips its own tokens', () => {
    expect(parsePage({ pageSize: 10, pageToken: operators.encode([T, A]) }, operators)).toEqual({
      size: 10,
      after: [T, A],
    });
  });

  it.each([
    ['not base64url', 'a+b/c='],
    ['not JSON', Buffer.from('nope').toString('base64url')],
    ['JSON without fields', Buffer.from('{}').toString('base64url')],
    ['in the format before the shared codec', legacy({ created_at: T, id: A })],
    ['a token of another list', projects.encode([T, A])],
    ['a millisecond time', legacy({ v: 1, l: 'identity.operators', k: ['2026-01-02T03:04:05.123Z', A] })],
    [
      'a day that does not exist',
      legacy({ v: 1, l: 'identity.operators', k: ['2026-02-30T03:04:05.123456Z', A] }),
    ],
    ['an id that is no UUID', legacy({ v: 1, l: 'identity.operators', k: [T, "x' OR 1=1"] })],
    ['a huge token', 'A'.repeat(2000)],
  ])('refuses a token that is %s', (_name, pageToken) =>
    expectInvalid(() => parsePage({ pageSize: 0, pageToken }, operators), 'page.page_token'),
  );

  it('cuts the extra row into a next-page token pointing after the last row kept', () => {
    const rows = [1, 2, 3].map((n) => ({
      id: `${A.slice(0, -1)}${n}`,
      cursor_at: `2026-01-02T03:04:0${n}.000000Z`,
    }));
    const first = pageOf(rows, 2, operators, (r) => [r.cursor_at, r.id]);
    expect(first.rows).toEqual(rows.slice(0, 2));
    expect(operators.decode(first.nextPageToken)).toEqual([rows[1]!.cursor_at, rows[1]!.id]);
    expect(pageOf(rows, 3, operators, (r) => [r.cursor_at, r.id])).toEqual({ rows, nextPageToken: '' });
  });
});

describe('visibility', () => {
  it('is everything only for an unrestricted city admin', () => {
    expect(visibilityOf({ scope: CITY_ADMIN_SCOPE, tenancy: {} })).toEqual({ all: true });
    expect(visibilityOf({ scope: '', tenancy: {} })).toEqual({ all: false, operatorIds: [], projectIds: [] });
    expect(visibilityOf({ scope: CITY_ADMIN_SCOPE, tenancy: { operators: [A] } })).toEqual({
      all: false,
      operatorIds: [A],
      projectIds: [],
    });
  });

  it('drops ids that could never match a stored UUID', () => {
    expect(
      visibilityOf({ scope: '', tenancy: { operators: [A, 'op-1'], projects: [B.toUpperCase(), B] } }),
    ).toEqual({
      all: false,
      operatorIds: [A],
      projectIds: [B],
    });
  });

  it('refuses admin-only actions to anyone restricted', () => {
    expect(() => assertCityAdmin({ scope: CITY_ADMIN_SCOPE, tenancy: {} }, 'create operators')).not.toThrow();
    for (const claims of [
      { scope: 'identity:tenancy.write', tenancy: {} },
      { scope: CITY_ADMIN_SCOPE, tenancy: { operators: [A] } },
      { scope: CITY_ADMIN_SCOPE, tenancy: { projects: [B] } },
    ]) {
      expect(domainErrorOf(() => assertCityAdmin(claims, 'create operators')).kind).toBe('permission_denied');
    }
  });
});
