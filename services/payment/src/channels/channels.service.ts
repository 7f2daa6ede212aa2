import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  Mutations,
  PG_POOL,
  Pool,
  PoolClient,
  tenancyFilter,
} from '@citybase/platform';
import {
  Channel,
  ConfigureProjectChannelResponse,
  GetProjectChannelsResponse,
  ListChannelsResponse,
  RegisterChannelResponse,
  SetChannelStatusResponse,
  SetRoutingRulesResponse,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { ChannelRouter } from './channel-router';
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
  setChannelEnabled,
  updateProjectChannel,
} from './channels.store';

/**
 * Use cases of the channel catalog (city administrators), the projects' channel accounts and their
 * routing rules. Every mutation runs through the use-case pipeline (Mutations, ADR 0007): once per
 * (client, method, request id); a retry gets what the first call wrote as it is now (re-read, not a
 * stored copy of the first answer), the same key with another request is refused, and a refused
 * request writes nothing (its transaction, key row included, rolls back). The key's resource id is
 * what the command names: the channel, "project/channel" or the project; a replay reads it by the
 * command, which the fingerprint shows to be the first call's.
 */
@Injectable()
export class ChannelsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
    private readonly cipher: CredentialsCipher,
    private readonly adapters: ChannelAdapters,
    private readonly router: ChannelRouter,
  ) {}

  /** A change to the channel configuration: this replica's copy is dropped once it is committed (or failed). */
  private changed<T>(mutation: Promise<T>): Promise<T> {
    return mutation.finally(() => this.router.forget());
  }

  // ---- catalog -----------------------------------------------------------------------------------

  async registerChannel(
    claims: CitybaseClaims,
    cmd: RegisterChannelCommand,
  ): Promise<RegisterChannelResponse> {
    assertCityAdmin(claims, 'register channels');
    if (!this.adapters.has(cmd.kind)) throw noAdapter(cmd.kind);
    return this.changed(
      this.mutations.run({
        method: 'PaymentService.RegisterChannel',
        claims,
        requestId: cmd.requestId,
        command: cmd,
        resourceId: cmd.channelId,
        execute: async ({ client, note }) => {
          const row = await insertChannel(client, cmd);
          if (!row) throw channelExists();
          note({ channel_id: cmd.channelId, kind: cmd.kind });
          return { channel: toChannel(row) };
        },
        replay: ({ client }) => this.currentChannel(client, cmd.channelId),
        done: 'channel registered',
      }),
    );
  }

  async setChannelStatus(
    claims: CitybaseClaims,
    cmd: SetChannelStatusCommand,
  ): Promise<SetChannelStatusResponse> {
    assertCityAdmin(claims, 'enable or disable channels');
    return this.changed(
      this.mutations.run({
        method: 'PaymentService.SetChannelStatus',
        claims,
        requestId: cmd.requestId,
        command: cmd,
        resourceId: cmd.channelId,
        execute: async ({ client, note }) => {
          const channel = await findChannel(client, cmd.channelId, 'update');
          if (!channel) throw channelNotFound();
          if (cmd.enabled && !this.adapters.has(channel.kind)) throw noAdapter(channel.kind);
          note({ channel_id: cmd.channelId, enabled: cmd.enabled });
          return { channel: toChannel(await setChannelEnabled(client, cmd.channelId, cmd.enabled)) };
        },
        replay: ({ client }) => this.currentChannel(client, cmd.channelId),
        done: 'channel status set',
      }),
    );
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
    const owner = { projectId: cmd.projectId, channelId: cmd.channelId };
    return this.changed(
      this.mutations.run({
        method: 'PaymentService.ConfigureProjectChannel',
        claims,
        requestId: cmd.requestId,
        // The fingerprint holds a keyed digest of the credentials, never the credentials or a plain
        // hash an attacker could test guesses against.
        command: {
          ...cmd,
          credentials: cmd.credentials === undefined ? null : this.cipher.fingerprint(cmd.credentials),
        },
        resourceId: `${cmd.projectId}/${cmd.channelId}`,
        execute: async ({ client, note }) => {
          await lockProject(client, cmd.projectId);
          await this.assertProjectOperator(client, claims, cmd);
          const channel = await findChannel(client, cmd.channelId, 'share');
          if (!channel) throw channelNotFound();
          // Turning an account off is always allowed; turning it on needs a channel that can be used.
          if (cmd.enabled && !channel.enabled) throw channelDisabled();
          if (cmd.enabled && !this.adapters.has(channel.kind)) throw noAdapter(channel.kind);
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
          note({
            operator_id: cmd.operatorId,
            project_id: cmd.projectId,
            channel_id: cmd.channelId,
            enabled: cmd.enabled,
            credentials_changed: cmd.credentials !== undefined,
          });
          return { projectChannel: toProjectChannel(row) };
        },
        replay: async ({ client }) => {
          // accounts are never deleted: the first call of this key wrote it
          const row = await findProjectChannel(client, cmd.projectId, cmd.channelId);
          if (!row)
            throw new Error(`project channel ${cmd.projectId}/${cmd.channelId} of a replay is missing`);
          return { projectChannel: toProjectChannel(row) };
        },
        done: 'project channel configured',
      }),
    );
  }

  async setRoutingRules(
    claims: CitybaseClaims,
    cmd: SetRoutingRulesCommand,
  ): Promise<SetRoutingRulesResponse> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    return this.changed(
      this.mutations.run({
        method: 'PaymentService.SetRoutingRules',
        claims,
        requestId: cmd.requestId,
        command: cmd,
        resourceId: cmd.projectId,
        execute: async ({ client, note }) => {
          await lockProject(client, cmd.projectId);
          await this.assertProjectOperator(client, claims, cmd);
          const configured = new Set((await listProjectChannels(client, cmd)).map((pc) => pc.channel_id));
          cmd.rules.forEach((rule, i) => {
            if (!configured.has(rule.channelId)) throw channelNotConfigured(`rules[${i}].channel_id`);
          });
          const rows = await replaceRoutingRules(client, cmd.projectId, cmd.rules);
          note({ operator_id: cmd.operatorId, project_id: cmd.projectId, rules: cmd.rules.length });
          return { rules: rows.map(toRoutingRule) };
        },
        // the project's rules as they are now (a later SetRoutingRules may have replaced these)
        replay: async ({ client }) => ({
          rules: (await listRoutingRules(client, cmd.projectId)).map(toRoutingRule),
        }),
        done: 'routing rules set',
      }),
    );
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
  /** A channel of the catalog as it is now (channels are never deleted). */
  private async currentChannel(client: PoolClient, channelId: string): Promise<{ channel: Channel }> {
    const row = await findChannel(client, channelId);
    if (!row) throw new Error(`channel ${channelId} of a replay is missing`);
    return { channel: toChannel(row) };
  }

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
