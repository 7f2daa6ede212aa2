import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  assertTenancy,
  CitybaseClaims,
  Logger,
  LOGGER,
  PG_POOL,
  Pool,
  PoolClient,
  requestFingerprint,
  tenancyFilter,
  withTransaction,
} from '@citybase/platform';
import {
  ConfigureProjectChannelResponse,
  GetProjectChannelsResponse,
  ListChannelsResponse,
  RegisterChannelResponse,
  SetChannelStatusResponse,
  SetRoutingRulesResponse,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { ChannelAdapters } from './channel-adapters';
import { CredentialsCipher } from './channel-credentials';
import type {
  ConfigureProjectChannelCommand,
  ProjectRef,
  RegisterChannelCommand,
  SetChannelStatusCommand,
  SetRoutingRulesCommand,
} from './channels.domain';
import {
  channelDisabled,
  channelExists,
  channelNotConfigured,
  channelNotFound,
  cityAdminRequired,
  credentialsRequired,
  noAdapter,
  notTheProjectsOperator,
} from './channels.errors';
import { toChannel, toProjectChannel, toRoutingRule } from './channels.render';
import {
  claimRequestKey,
  findChannel,
  findProjectChannel,
  insertChannel,
  insertProjectChannel,
  listChannels,
  listProjectChannels,
  listRoutingRules,
  lockProject,
  ProjectChannelRow,
  projectOperator,
  replaceRoutingRules,
  RequestKey,
  setChannelEnabled,
  storeResponse,
  updateProjectChannel,
} from './channels.store';

/** The encode/decode pair ts-proto generates for every message. */
interface ProtoCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/**
 * Use cases of the channel catalog (city administrators), the projects' channel accounts and their
 * routing rules. Every mutation is idempotent by (client, method, request id): a retry gets the
 * first answer again, the same key with another request is refused, and a refused request writes
 * nothing (its transaction, key row included, rolls back).
 */
@Injectable()
export class ChannelsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly cipher: CredentialsCipher,
    private readonly adapters: ChannelAdapters,
  ) {}

  // ---- catalog -----------------------------------------------------------------------------------

  async registerChannel(
    claims: CitybaseClaims,
    cmd: RegisterChannelCommand,
  ): Promise<RegisterChannelResponse> {
    assertCityAdmin(claims, 'register channels');
    if (!this.adapters.has(cmd.kind)) throw noAdapter(cmd.kind);
    const key = requestKey(claims, 'RegisterChannel', cmd.requestId);
    const { response, replayed } = await withTransaction(this.pool, (client) =>
      once(client, key, requestFingerprint(cmd), RegisterChannelResponse, async () => {
        const row = await insertChannel(client, cmd);
        if (!row) throw channelExists();
        return { channel: toChannel(row) };
      }),
    );
    if (!replayed)
      this.logger.info(
        { channel_id: cmd.channelId, kind: cmd.kind, client_id: claims.sub },
        'channel registered',
      );
    return response;
  }

  async setChannelStatus(
    claims: CitybaseClaims,
    cmd: SetChannelStatusCommand,
  ): Promise<SetChannelStatusResponse> {
    assertCityAdmin(claims, 'enable or disable channels');
    const key = requestKey(claims, 'SetChannelStatus', cmd.requestId);
    const { response, replayed } = await withTransaction(this.pool, (client) =>
      once(client, key, requestFingerprint(cmd), SetChannelStatusResponse, async () => {
        const channel = await findChannel(client, cmd.channelId, 'update');
        if (!channel) throw channelNotFound();
        if (cmd.enabled && !this.adapters.has(channel.kind)) throw noAdapter(channel.kind);
        return { channel: toChannel(await setChannelEnabled(client, cmd.channelId, cmd.enabled)) };
      }),
    );
    if (!replayed)
      this.logger.info(
        { channel_id: cmd.channelId, enabled: cmd.enabled, client_id: claims.sub },
        'channel status set',
      );
    return response;
  }

  async listChannels(): Promise<ListChannelsResponse> {
    return { channels: (await listChannels(this.pool)).map(toChannel) };
  }

  // ---- project accounts --------------------------------------------------------------------------

  async configureProjectChannel(
    claims: CitybaseClaims,
    cmd: ConfigureProjectChannelCommand,
  ): Promise<ConfigureProjectChannelResponse> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    const key = requestKey(claims, 'ConfigureProjectChannel', cmd.requestId);
    // The fingerprint holds a keyed digest of the credentials, never the credentials or a plain hash.
    const fingerprint = requestFingerprint({
      ...cmd,
      credentials: cmd.credentials === undefined ? null : this.cipher.fingerprint(cmd.credentials),
    });
    const { response, replayed } = await withTransaction(this.pool, async (client) => {
      await lockProject(client, cmd.projectId);
      return once(client, key, fingerprint, ConfigureProjectChannelResponse, async () => {
        await this.assertProjectOperator(client, claims, cmd);
        const channel = await findChannel(client, cmd.channelId, 'share');
        if (!channel) throw channelNotFound();
        // Turning an account off is always allowed; turning it on needs a channel that can be used.
        if (cmd.enabled && !channel.enabled) throw channelDisabled();
        if (cmd.enabled && !this.adapters.has(channel.kind)) throw noAdapter(channel.kind);
        const owner = { projectId: cmd.projectId, channelId: cmd.channelId };
        const sealed = cmd.credentials === undefined ? undefined : this.cipher.seal(cmd.credentials, owner);
        const existing = await findProjectChannel(client, cmd.projectId, cmd.channelId);
        let row: ProjectChannelRow;
        if (existing) {
          row = await updateProjectChannel(client, owner, {
            merchantNo: cmd.merchantNo,
            enabled: cmd.enabled,
            credentialsEnc: sealed,
          });
        } else {
          if (!sealed) throw credentialsRequired();
          row = await insertProjectChannel(client, {
            operator_id: cmd.operatorId,
            project_id: cmd.projectId,
            channel_id: cmd.channelId,
            merchant_no: cmd.merchantNo,
            credentials_enc: sealed,
            enabled: cmd.enabled,
          });
        }
        return { projectChannel: toProjectChannel(row) };
      });
    });
    if (!replayed)
      this.logger.info(
        {
          operator_id: cmd.operatorId,
          project_id: cmd.projectId,
          channel_id: cmd.channelId,
          enabled: cmd.enabled,
          credentials_changed: cmd.credentials !== undefined,
          client_id: claims.sub,
        },
        'project channel configured',
      );
    return response;
  }

  async setRoutingRules(
    claims: CitybaseClaims,
    cmd: SetRoutingRulesCommand,
  ): Promise<SetRoutingRulesResponse> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    const key = requestKey(claims, 'SetRoutingRules', cmd.requestId);
    const { response, replayed } = await withTransaction(this.pool, async (client) => {
      await lockProject(client, cmd.projectId);
      return once(client, key, requestFingerprint(cmd), SetRoutingRulesResponse, async () => {
        await this.assertProjectOperator(client, claims, cmd);
        const configured = new Set((await listProjectChannels(client, cmd)).map((pc) => pc.channel_id));
        cmd.rules.forEach((rule, i) => {
          if (!configured.has(rule.channelId)) throw channelNotConfigured(`rules[${i}].channel_id`);
        });
        const rows = await replaceRoutingRules(client, cmd.projectId, cmd.rules);
        return { rules: rows.map(toRoutingRule) };
      });
    });
    if (!replayed)
      this.logger.info(
        {
          operator_id: cmd.operatorId,
          project_id: cmd.projectId,
          rules: cmd.rules.length,
          client_id: claims.sub,
        },
        'routing rules set',
      );
    return response;
  }

  /** Within the caller's tenancy; a project without channel configuration has empty lists. */
  async getProjectChannels(claims: CitybaseClaims, ref: ProjectRef): Promise<GetProjectChannelsResponse> {
    assertTenancy(claims, ref);
    const channels = await listProjectChannels(this.pool, ref);
    // Rules point at the project's accounts: none visible under this operator means none to show.
    const rules = channels.length === 0 ? [] : await listRoutingRules(this.pool, ref.projectId);
    return { channels: channels.map(toProjectChannel), rules: rules.map(toRoutingRule) };
  }

  /**
   * A project's channel configuration lives under one operator (the first configuration's). A
   * request naming another operator is refused: PERMISSION_DENIED if the caller may not see the
   * stored one, otherwise INVALID_ARGUMENT on tenancy.operator_id.
   */
  private async assertProjectOperator(
    client: PoolClient,
    claims: CitybaseClaims,
    ref: ProjectRef,
  ): Promise<void> {
    const stored = await projectOperator(client, ref.projectId);
    if (stored === undefined || stored === ref.operatorId) return;
    assertTenancy(claims, { operatorId: stored, projectId: ref.projectId });
    throw notTheProjectsOperator();
  }
}

function assertCityAdmin(claims: CitybaseClaims, action: string): void {
  if (!tenancyFilter(claims).all) throw cityAdminRequired(action);
}

function requestKey(claims: CitybaseClaims, rpc: string, requestId: string): RequestKey {
  return { clientId: claims.sub, method: `PaymentService.${rpc}`, requestId };
}

/**
 * Runs `run` once per request key inside the caller's transaction and stores its answer with the
 * key; a retry with the same request gets the stored answer back without running anything.
 */
async function once<T>(
  client: PoolClient,
  key: RequestKey,
  fingerprint: string,
  codec: ProtoCodec<T>,
  run: () => Promise<T>,
): Promise<{ response: T; replayed: boolean }> {
  const claimed = await claimRequestKey(client, key, fingerprint);
  if (claimed === 'taken') {
    const response = await run();
    await storeResponse(client, key, Buffer.from(codec.encode(response).finish()));
    return { response, replayed: false };
  }
  if (!claimed || claimed.response === null) throw DomainError.requestInFlight();
  if (claimed.fingerprint !== fingerprint) throw DomainError.requestIdReused();
  return { response: codec.decode(claimed.response), replayed: true };
}
