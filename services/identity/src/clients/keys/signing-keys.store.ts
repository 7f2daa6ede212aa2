import { generateSigningKey, type PublicJwk } from '@citybase/platform';
import type { Pool, PoolClient } from 'pg';
import type { SigningKeyWrap } from './key-wrap';
import type { SigningKeyState, StoredSigningKey } from './signing-keys.domain';

type Db = Pool | PoolClient;

interface SigningKeyRow {
  kid: string;
  public_jwk: PublicJwk;
  state: SigningKeyState;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
}

const COLUMNS = 'kid, public_jwk, state, created_at, activated_at, retired_at';

function fromRow(r: SigningKeyRow): StoredSigningKey {
  return {
    kid: r.kid,
    publicJwk: r.public_jwk,
    state: r.state,
    createdAt: r.created_at,
    activatedAt: r.activated_at,
    retiredAt: r.retired_at,
  };
}

/**
 * Serialises every change of the key set (first start, rotation) across all identity processes, for
 * the rest of the caller's transaction. The unique partial indexes on state are the backstop.
 */
export async function lockSigningKeys(client: PoolClient): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('citybase.identity.signing_keys'))`);
}

/** Generates a key pair and stores it, its private half wrapped. */
export async function insertNewKey(
  client: PoolClient,
  wrap: SigningKeyWrap,
  state: 'next' | 'current',
): Promise<StoredSigningKey> {
  const key = generateSigningKey();
  const { rows } = await client.query<SigningKeyRow>(
    `INSERT INTO signing_keys (kid, public_jwk, private_key_enc, state, activated_at)
     VALUES ($1, $2, $3, $4, CASE WHEN $4 = 'current' THEN clock_timestamp() END)
     RETURNING ${COLUMNS}`,
    [key.kid, JSON.stringify(key.publicJwk), wrap.wrap(key.privateKey, key.kid), state],
  );
  return fromRow(rows[0] as SigningKeyRow);
}

export async function findKeysInState(db: Db, states: SigningKeyState[]): Promise<StoredSigningKey[]> {
  const { rows } = await db.query<SigningKeyRow>(
    `SELECT ${COLUMNS} FROM signing_keys WHERE state = ANY($1::text[]) ORDER BY created_at`,
    [states],
  );
  return rows.map(fromRow);
}

export async function findKey(db: Db, kid: string): Promise<StoredSigningKey | undefined> {
  const { rows } = await db.query<SigningKeyRow>(`SELECT ${COLUMNS} FROM signing_keys WHERE kid = $1`, [kid]);
  return rows[0] && fromRow(rows[0]);
}

/**
 * The current and next keys, the retired keys retired after `retiredAfter`, and the wrapped private
 * half of the current key: one statement, so the set and the signing key are consistent.
 */
export async function loadKeySet(
  db: Db,
  retiredAfter: Date,
): Promise<{ keys: StoredSigningKey[]; current: { kid: string; privateKeyEnc: Buffer } | undefined }> {
  const { rows } = await db.query<SigningKeyRow & { private_key_enc: Buffer | null }>(
    `SELECT ${COLUMNS}, CASE WHEN state = 'current' THEN private_key_enc END AS private_key_enc
       FROM signing_keys
      WHERE state <> 'retired' OR retired_at > $1
      ORDER BY created_at`,
    [retiredAfter],
  );
  const current = rows.find((r) => r.state === 'current');
  return {
    keys: rows.map(fromRow),
    current: current?.private_key_enc
      ? { kid: current.kid, privateKeyEnc: current.private_key_enc }
      : undefined,
  };
}

export async function currentKid(db: Db): Promise<string | undefined> {
  const { rows } = await db.query<{ kid: string }>(`SELECT kid FROM signing_keys WHERE state = 'current'`);
  return rows[0]?.kid;
}

/** current -> retired (its private half destroyed), next -> current. Caller holds lockSigningKeys. */
export async function retireCurrentAndPromoteNext(
  client: PoolClient,
  current: string,
  next: string,
): Promise<void> {
  await client.query(
    `UPDATE signing_keys SET state = 'retired', retired_at = clock_timestamp(), private_key_enc = NULL
      WHERE kid = $1 AND state = 'current'`,
    [current],
  );
  await client.query(
    `UPDATE signing_keys SET state = 'current', activated_at = clock_timestamp()
      WHERE kid = $1 AND state = 'next'`,
    [next],
  );
}

export async function insertRotation(
  client: PoolClient,
  rotationId: string,
  kid: string,
  previousKid: string,
): Promise<Date> {
  const { rows } = await client.query<{ rotated_at: Date }>(
    `INSERT INTO signing_key_rotations (rotation_id, kid, previous_kid) VALUES ($1, $2, $3) RETURNING rotated_at`,
    [rotationId, kid, previousKid],
  );
  return (rows[0] as { rotated_at: Date }).rotated_at;
}

export async function findRotation(
  db: Db,
  rotationId: string,
): Promise<{ kid: string; previousKid: string } | undefined> {
  const { rows } = await db.query<{ kid: string; previousKid: string }>(
    `SELECT kid, previous_kid AS "previousKid" FROM signing_key_rotations WHERE rotation_id = $1`,
    [rotationId],
  );
  return rows[0];
}

/**
 * Makes sure a current and a next key exist (first start of a city, or a database restored without
 * a next key). Safe when several identity processes start at once: the advisory lock makes them
 * take turns, and the later ones find the keys already there.
 */
export async function ensureSigningKeys(client: PoolClient, wrap: SigningKeyWrap): Promise<void> {
  await lockSigningKeys(client);
  const existing = await findKeysInState(client, ['current', 'next']);
  const hasCurrent = existing.some((k) => k.state === 'current');
  const hasNext = existing.some((k) => k.state === 'next');
  if (!hasCurrent) {
    const next = existing.find((k) => k.state === 'next');
    if (next) {
      // a next key is already published: it becomes current, so verifiers know its kid
      await client.query(
        `UPDATE signing_keys SET state = 'current', activated_at = clock_timestamp() WHERE kid = $1`,
        [next.kid],
      );
    } else {
      await insertNewKey(client, wrap, 'current');
    }
  }
  if (!hasNext || !hasCurrent) await insertNewKey(client, wrap, 'next');
}
