import { randomUUID } from 'node:crypto';
import { DomainError } from '@citybase/platform';
import type { CreateClientRequest } from '@citybase/contracts/citybase/identity/v1/clients';
import {
  assertScopesHeld,
  assertTenancyInside,
  CLIENTS_PAGE,
  requiredClientId,
  toCreateClientCommand,
  toListClientsQuery,
  toRevokeClientCommand,
} from './clients.domain';

const OP = randomUUID();
const OP2 = randomUUID();
const PROJ = randomUUID();

const request = (over: Partial<CreateClientRequest> = {}): CreateClientRequest => ({
  requestId: 'req-1',
  name: 'Parking app',
  scopes: ['parking:write', 'payment:read'],
  tenancy: { operatorIds: [OP], projectIds: [] },
  ...over,
});

/** The thrown DomainError's field, or a failure if nothing (or something else) was thrown. */
function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err.detail.field;
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe('CreateClient validation', () => {
  it('accepts a valid request and normalises ids', () => {
    const cmd = toCreateClientCommand(
      request({ tenancy: { operatorIds: [OP.toUpperCase()], projectIds: [PROJ] } }),
    );
    expect(cmd).toEqual({
      requestId: 'req-1',
      name: 'Parking app',
      scopes: ['parking:write', 'payment:read'],
      operatorIds: [OP],
      projectIds: [PROJ],
    });
  });

  it.each([
    ['request_id', request({ requestId: '' })],
    ['name', request({ name: '' })],
    ['name', request({ name: 'x'.repeat(201) })],
    ['scopes', request({ scopes: [] })],
    ['scopes', request({ scopes: Array.from({ length: 51 }, (_, i) => `s:${i}`) })],
    ['scopes[1]', request({ scopes: ['a:b', 'has space'] })],
    ['scopes[0]', request({ scopes: ['quote"d'] })],
    ['scopes[0]', request({ scopes: ['x'.repeat(101)] })],
    ['scopes[1]', request({ scopes: ['a:b', 'a:b'] })],
    ['tenancy.operator_ids[0]', request({ tenancy: { operatorIds: ['not-a-uuid'], projectIds: [] } })],
    ['tenancy.project_ids[1]', request({ tenancy: { operatorIds: [], projectIds: [PROJ, PROJ] } })],
    ['tenancy', request({ tenancy: { operatorIds: [], projectIds: [] } })],
    ['tenancy', request({ tenancy: undefined })],
  ])('refuses bad input naming %s', (field, req) => {
    expect(fieldOf(() => toCreateClientCommand(req))).toBe(field);
  });

  it('allows the whole city (empty tenancy) only with scope city:admin', () => {
    const cmd = toCreateClientCommand(request({ scopes: ['city:admin'], tenancy: undefined }));
    expect(cmd.operatorIds).toEqual([]);
  });
});

describe('other requests', () => {
  it('checks client ids, reasons and paging', () => {
    expect(fieldOf(() => requiredClientId('client_id', 'cb_tooshort'))).toBe('client_id');
    expect(fieldOf(() => requiredClientId('client_id', ''))).toBe('client_id');
    const id = 'cb_abcdefghijklmnopqrstuvwx';
    expect(requiredClientId('client_id', id)).toBe(id);
    expect(fieldOf(() => toRevokeClientCommand({ requestId: 'r', clientId: id, reason: '' }))).toBe('reason');
    expect(
      fieldOf(() => toRevokeClientCommand({ requestId: 'r', clientId: id, reason: 'x'.repeat(501) })),
    ).toBe('reason');
    expect(toListClientsQuery({ page: undefined })).toEqual({ pageSize: 50, after: undefined });
    expect(fieldOf(() => toListClientsQuery({ page: { pageSize: -1, pageToken: '' } }))).toBe(
      'page.page_size',
    );
    expect(fieldOf(() => toListClientsQuery({ page: { pageSize: 201, pageToken: '' } }))).toBe(
      'page.page_size',
    );
    expect(fieldOf(() => toListClientsQuery({ page: { pageSize: 0, pageToken: 'garbage!' } }))).toBe(
      'page.page_token',
    );
    expect(toListClientsQuery({ page: { pageSize: 5, pageToken: CLIENTS_PAGE.encode([id]) } })).toEqual({
      pageSize: 5,
      after: id,
    });
  });
});

describe('no privilege escalation', () => {
  const admin = { scope: 'city:admin identity:clients.write parking:write', tenancy: {} };
  const operatorClient = { scope: 'identity:clients.write parking:write', tenancy: { operators: [OP] } };
  const projectClient = { scope: 'identity:clients.write', tenancy: { projects: [PROJ] } };

  it('refuses scopes the caller does not hold, naming the scope', () => {
    expect(() => assertScopesHeld(operatorClient, ['parking:write'])).not.toThrow();
    expect(() => assertScopesHeld(operatorClient, ['parking:write', 'city:admin'])).toThrow(
      /scopes\[1\].*city:admin/,
    );
    expect(() => assertScopesHeld(operatorClient, ['payment:write'])).toThrow(
      expect.objectContaining({ kind: 'permission_denied', code: 'SCOPE_ESCALATION' }),
    );
  });

  it('lets an unrestricted city admin grant any tenancy, including the whole city', () => {
    expect(() => assertTenancyInside(admin, { operatorIds: [OP2], projectIds: [] }, new Map())).not.toThrow();
    expect(() => assertTenancyInside(admin, { operatorIds: [], projectIds: [] }, new Map())).not.toThrow();
  });

  it('keeps a restricted caller inside its subtree', () => {
    const projects = new Map([
      [PROJ, OP],
      [randomUUID(), OP2],
    ]);
    const foreignProject = [...projects.keys()][1] as string;
    const inside = (
      caller: typeof operatorClient | typeof projectClient,
      operatorIds: string[],
      projectIds: string[],
    ) => {
      try {
        assertTenancyInside(caller, { operatorIds, projectIds }, projects);
        return true;
      } catch (err) {
        expect((err as DomainError).kind).toBe('permission_denied');
        return false;
      }
    };
    expect(inside(operatorClient, [OP], [])).toBe(true);
    expect(inside(operatorClient, [], [PROJ])).toBe(true); // a project of its operator
    expect(inside(operatorClient, [OP2], [])).toBe(false);
    expect(inside(operatorClient, [], [foreignProject])).toBe(false);
    expect(inside(operatorClient, [], [])).toBe(false); // the whole city
    expect(inside(projectClient, [], [PROJ])).toBe(true);
    expect(inside(projectClient, [OP], [])).toBe(false); // not the operator of its project
    expect(inside(projectClient, [], [foreignProject])).toBe(false);
  });

  it('treats city:admin with a tenancy as restricted to it', () => {
    const narrowAdmin = { scope: 'city:admin', tenancy: { operators: [OP] } };
    expect(() => assertTenancyInside(narrowAdmin, { operatorIds: [OP2], projectIds: [] }, new Map())).toThrow(
      /tenancy.operator_ids\[0\]/,
    );
    expect(() => assertTenancyInside(narrowAdmin, { operatorIds: [], projectIds: [] }, new Map())).toThrow();
  });
});
