import type { Pool, PoolClient } from '@citybase/platform';
import type { ChannelKind, PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import type { ProjectRef, RegisterChannelCommand, RoutingRuleSpec } from './channels.domain';

/** SQL of the channel catalog, project channel accounts and routing rules. */

type Db = Pool | PoolClient;

export interface ChannelRow {
  channel_id: string;
  kind: ChannelKind;
  display_name: string;
  endpoint: string;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface ProjectChannelRow {
  operator_id: string;
  project_id: string;
  channel_id: string;
  merchant_no: string;
  credentials_enc: Buffer;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface RoutingRuleRow {
  project_id: string;
  position: number;
  channel_id: string;
  priority: number;
  weight: number;
  scenarios: PaymentScenario[];
  min_amount_minor: bigint;
  max_amount_minor: bigint;
}

/** A rule of a project with what routing needs of its channel and the project's account there. */
export interface RuleWithAccountRow extends RoutingRuleRow {
  kind: ChannelKind;
  endpoint: string;
  channel_enabled: boolean;
  account_enabled: boolean;
  merchant_no: string;
  credentials_enc: Buffer;
}

/** A project account with its catalog channel, for calls about an existing payment. */
export interface AccountRow extends ProjectChannelRow {
  kind: ChannelKind;
  endpoint: string;
}

// ---- catalog -------------------------------------------------------------------------------------

/** Undefined when the channel id is taken. */
export async function insertChannel(
  client: PoolClient,
  cmd: RegisterChannelCommand,
): Promise<ChannelRow | undefined> {
  const { rows } = await client.query<ChannelRow>(
    `INSERT INTO channels (channel_id, kind, display_name, endpoint)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (channel_id) DO NOTHING
     RETURNING *`,
    [cmd.channelId, cmd.kind, cmd.displayName, cmd.endpoint],
  );
  return rows[0];
}

export async function findChannel(
  db: Db,
  channelId: string,
  lock: 'none' | 'share' | 'update' = 'none',
): Promise<ChannelRow | undefined> {
  const suffix = lock === 'share' ? ' FOR SHARE' : lock === 'update' ? ' FOR UPDATE' : '';
  const { rows } = await db.query<ChannelRow>(`SELECT * FROM channels WHERE channel_id = $1${suffix}`, [
    channelId,
  ]);
  return rows[0];
}

export async function listChannels(db: Db): Promise<ChannelRow[]> {
  const { rows } = await db.query<ChannelRow>('SELECT * FROM channels ORDER BY channel_id');
  return rows;
}

export async function setChannelEnabled(
  client: PoolClient,
  channelId: string,
  enabled: boolean,
): Promise<ChannelRow> {
  const { rows } = await client.query<ChannelRow>(
    `UPDATE channels SET enabled = $2, updated_at = clock_timestamp()
      WHERE channel_id = $1 RETURNING *`,
    [channelId, enabled],
  );
  const row = rows[0];
  if (!row) throw new Error(`channel ${channelId} vanished inside its transaction`);
  return row;
}

// ---- project accounts ----------------------------------------------------------------------------

/**
 * Serializes the writers of one project's channel configuration (accounts and rules) until the
 * transaction ends, so checks such as "all rows of a project have one operator" hold.
 */
export async function lockProject(client: PoolClient, projectId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('payment.channels.project ' || $1, 0))`, [
    projectId,
  ]);
}

/** The operator the project's channel configuration was made under, if there is any. */
export async function projectOperator(db: Db, projectId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ operator_id: string }>(
    'SELECT operator_id FROM project_channels WHERE project_id = $1 LIMIT 1',
    [projectId],
  );
  return rows[0]?.operator_id;
}

export async function findProjectChannel(
  db: Db,
  projectId: string,
  channelId: string,
): Promise<ProjectChannelRow | undefined> {
  const { rows } = await db.query<ProjectChannelRow>(
    'SELECT * FROM project_channels WHERE project_id = $1 AND channel_id = $2',
    [projectId, channelId],
  );
  return rows[0];
}

export async function insertProjectChannel(
  client: PoolClient,
  row: Pick<
    ProjectChannelRow,
    'operator_id' | 'project_id' | 'channel_id' | 'merchant_no' | 'credentials_enc' | 'enabled'
  >,
): Promise<ProjectChannelRow> {
  const { rows } = await client.query<ProjectChannelRow>(
    `INSERT INTO project_channels (operator_id, project_id, channel_id, merchant_no, credentials_enc, enabled)
     VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING *`,
    [row.operator_id, row.project_id, row.channel_id, row.merchant_no, row.credentials_enc, row.enabled],
  );
  return rows[0] as ProjectChannelRow;
}

/** Updates an account; credentialsEnc undefined keeps the stored credentials. */
export async function updateProjectChannel(
  client: PoolClient,
  key: { projectId: string; channelId: string },
  change: { merchantNo: string; enabled: boolean; credentialsEnc: Buffer | undefined },
): Promise<ProjectChannelRow> {
  const { rows } = await client.query<ProjectChannelRow>(
    `UPDATE project_channels
        SET merchant_no = $3, enabled = $4, credentials_enc = COALESCE($5, credentials_enc),
            updated_at = clock_timestamp()
      WHERE project_id = $1 AND channel_id = $2
      RETURNING *`,
    [key.projectId, key.channelId, change.merchantNo, change.enabled, change.credentialsEnc ?? null],
  );
  const row = rows[0];
  if (!row)
    throw new Error(`project channel ${key.projectId}/${key.channelId} vanished inside its transaction`);
  return row;
}

export async function listProjectChannels(db: Db, ref: ProjectRef): Promise<ProjectChannelRow[]> {
  const { rows } = await db.query<ProjectChannelRow>(
    `SELECT * FROM project_channels WHERE project_id = $1 AND operator_id = $2 ORDER BY channel_id`,
    [ref.projectId, ref.operatorId],
  );
  return rows;
}

/** The project's account at a channel with the channel's kind and endpoint, enabled or not. */
export async function findAccount(
  db: Db,
  projectId: string,
  channelId: string,
): Promise<AccountRow | undefined> {
  const { rows } = await db.query<AccountRow>(
    `SELECT pc.*, c.kind, c.endpoint
       FROM project_channels pc JOIN channels c USING (channel_id)
      WHERE pc.project_id = $1 AND pc.channel_id = $2`,
    [projectId, channelId],
  );
  return rows[0];
}

// ---- routing rules -------------------------------------------------------------------------------

export async function replaceRoutingRules(
  client: PoolClient,
  projectId: string,
  rules: RoutingRuleSpec[],
): Promise<RoutingRuleRow[]> {
  await client.query('DELETE FROM routing_rules WHERE project_id = $1', [projectId]);
  const { rows } = await client.query<RoutingRuleRow>(
    `INSERT INTO routing_rules
       (project_id, position, channel_id, priority, weight, scenarios, min_amount_minor, max_amount_minor)
     SELECT $1, r.position, r.channel_id, r.priority, r.weight,
            ARRAY(SELECT jsonb_array_elements_text(r.scenarios)::smallint),
            r.min_amount_minor::bigint, r.max_amount_minor::bigint
       FROM jsonb_to_recordset($2::jsonb) AS r(position smallint, channel_id text, priority integer,
            weight integer, scenarios jsonb, min_amount_minor text, max_amount_minor text)
     RETURNING *`,
    [
      projectId,
      JSON.stringify(
        rules.map((r, position) => ({
          position,
          channel_id: r.channelId,
          priority: r.priority,
          weight: r.weight,
          scenarios: r.scenarios,
          // bigint as decimal text: JSON numbers would lose precision beyond 2^53
          min_amount_minor: r.minAmountMinor.toString(),
          max_amount_minor: r.maxAmountMinor.toString(),
        })),
      ),
    ],
  );
  return rows.sort((a, b) => a.position - b.position);
}

export async function listRoutingRules(db: Db, projectId: string): Promise<RoutingRuleRow[]> {
  const { rows } = await db.query<RoutingRuleRow>(
    'SELECT * FROM routing_rules WHERE project_id = $1 ORDER BY position',
    [projectId],
  );
  return rows;
}

/** Every rule of the project with its channel and account, whatever their state (routing filters). */
export async function rulesWithAccounts(db: Db, ref: ProjectRef): Promise<RuleWithAccountRow[]> {
  const { rows } = await db.query<RuleWithAccountRow>(
    `SELECT r.*, c.kind, c.endpoint, c.enabled AS channel_enabled, pc.enabled AS account_enabled,
            pc.merchant_no, pc.credentials_enc
       FROM routing_rules r
       JOIN project_channels pc ON pc.project_id = r.project_id AND pc.channel_id = r.channel_id
       JOIN channels c ON c.channel_id = r.channel_id
      WHERE r.project_id = $1 AND pc.operator_id = $2
      ORDER BY r.priority, r.position`,
    [ref.projectId, ref.operatorId],
  );
  return rows;
}
