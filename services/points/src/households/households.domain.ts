import { DomainError, requestId, requiredString, TENANT_ID } from '@citybase/platform';

/**
 * Pure rules of households (no I/O): SetHouseholdMembers validated into a command
 * (INVALID_ARGUMENT naming the proto field, before anything is read or written).
 */

/** Members of one household, at most. */
export const MAX_MEMBERS = 20;

export interface SetHouseholdMembersCommand {
  requestId: string;
  operatorId: string;
  /** '' unless the caller names one of the operator's projects. */
  projectId: string;
  householdId: string;
  /** Distinct user ids, sorted (the set replaces the current members). */
  memberIds: string[];
}

export function toSetHouseholdMembersCommand(req: {
  requestId?: string;
  tenancy?: { operatorId?: string; projectId?: string };
  householdId?: string;
  memberIds?: string[];
}): SetHouseholdMembersCommand {
  const id = requestId(req.requestId);
  const operatorId = requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID);
  const projectId = req.tenancy?.projectId
    ? requiredString('tenancy.project_id', req.tenancy.projectId, TENANT_ID)
    : '';
  const householdId = requiredString('household_id', req.householdId, TENANT_ID);
  const given = req.memberIds ?? [];
  if (given.length > MAX_MEMBERS) throw DomainError.invalid('member_ids', `must be at most ${MAX_MEMBERS}`);
  const seen = new Set<string>();
  given.forEach((raw, i) => {
    const field = `member_ids[${i}]`;
    const member = requiredString(field, raw, TENANT_ID);
    if (member === householdId) throw DomainError.invalid(field, 'must differ from household_id');
    if (seen.has(member)) throw DomainError.invalid(field, 'must differ from the other members');
    seen.add(member);
  });
  return { requestId: id, operatorId, projectId, householdId, memberIds: [...seen].sort() };
}
