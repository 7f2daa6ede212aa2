import type { Pool, PoolClient } from '@citybase/platform';

/**
 * All SQL of households (migrations/0007_transfers_households_tiers_notices.sql, household_members);
 * mutations run in the caller's transaction, under the household account's row lock.
 */

type Db = Pool | PoolClient;

/** The household a user earns into in the operator's programme, if they are a member of one. */
export async function householdOf(db: Db, operatorId: string, memberId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ household_id: string }>(
    'SELECT household_id FROM household_members WHERE operator_id = $1 AND member_id = $2',
    [operatorId, memberId],
  );
  return rows[0]?.household_id;
}

/** A household's members, by id. */
export async function membersOf(db: Db, operatorId: string, householdId: string): Promise<string[]> {
  const { rows } = await db.query<{ member_id: string }>(
    'SELECT member_id FROM household_members WHERE operator_id = $1 AND household_id = $2 ORDER BY member_id',
    [operatorId, householdId],
  );
  return rows.map((r) => r.member_id);
}

/** Of these holders, the ones that are households (accounts of kind 2) in the operator's programme. */
export async function householdsAmong(
  db: Db,
  operatorId: string,
  holderIds: readonly string[],
): Promise<string[]> {
  const { rows } = await db.query<{ holder_id: string }>(
    `SELECT holder_id FROM accounts WHERE operator_id = $1 AND holder_id = ANY($2::text[]) AND holder_kind = 2
      ORDER BY holder_id`,
    [operatorId, holderIds],
  );
  return rows.map((r) => r.holder_id);
}

/** Marks the account a household's (holder_kind 2). */
export async function markHousehold(client: PoolClient, accountId: string): Promise<void> {
  await client.query('UPDATE accounts SET holder_kind = 2 WHERE account_id = $1 AND holder_kind <> 2', [
    accountId,
  ]);
}

/**
 * Replaces the household's members: the old ones removed, the new ones added unless they are a
 * member of another household (the primary key (operator, member)). Returns the ones refused.
 */
export async function replaceMembers(
  client: PoolClient,
  operatorId: string,
  householdId: string,
  memberIds: readonly string[],
  by: string,
): Promise<string[]> {
  await client.query('DELETE FROM household_members WHERE operator_id = $1 AND household_id = $2', [
    operatorId,
    householdId,
  ]);
  if (memberIds.length === 0) return [];
  const { rows } = await client.query<{ member_id: string }>(
    `INSERT INTO household_members (operator_id, member_id, household_id, added_by)
     SELECT $1, m, $2, $4 FROM unnest($3::text[]) AS m
     ON CONFLICT (operator_id, member_id) DO NOTHING
     RETURNING member_id`,
    [operatorId, householdId, memberIds, by],
  );
  const added = new Set(rows.map((r) => r.member_id));
  return memberIds.filter((m) => !added.has(m));
}
