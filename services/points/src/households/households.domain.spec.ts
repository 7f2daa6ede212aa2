import { domainErrorOf } from '@citybase/platform/testing';
import { MAX_MEMBERS, toSetHouseholdMembersCommand } from './households.domain';

describe('households domain', () => {
  const req = (over: Record<string, unknown> = {}) => ({
    requestId: 'r-1',
    tenancy: { operatorId: 'op-1' },
    householdId: 'home-1',
    memberIds: ['bob', 'alice'],
    ...over,
  });

  it('validates into a command with the members sorted', () => {
    expect(toSetHouseholdMembersCommand(req())).toEqual({
      requestId: 'r-1',
      operatorId: 'op-1',
      projectId: '',
      householdId: 'home-1',
      memberIds: ['alice', 'bob'],
    });
    expect(toSetHouseholdMembersCommand(req({ memberIds: [] })).memberIds).toEqual([]);
    const full = Array.from({ length: MAX_MEMBERS }, (_, i) => `m-${i}`);
    expect(toSetHouseholdMembersCommand(req({ memberIds: full })).memberIds).toHaveLength(MAX_MEMBERS);
  });

  it.each([
    [{ requestId: '' }, 'request_id'],
    [{ tenancy: {} }, 'tenancy.operator_id'],
    [{ householdId: '' }, 'household_id'],
    [{ memberIds: Array.from({ length: MAX_MEMBERS + 1 }, (_, i) => `m-${i}`) }, 'member_ids'],
    [{ memberIds: ['a', 'a'] }, 'member_ids[1]'],
    [{ memberIds: ['a', 'home-1'] }, 'member_ids[1]'],
    [{ memberIds: ['a b'] }, 'member_ids[0]'],
  ])('refuses %j naming %s', (over, field) => {
    const err = domainErrorOf(() => toSetHouseholdMembersCommand(req(over)));
    expect([err.kind, err.detail.field]).toEqual(['invalid_argument', field]);
  });
});
