import { status } from '@grpc/grpc-js';
import type { Client, Pool } from 'pg';
import {
  ChannelKind,
  ConfigureProjectChannelRequest,
  GetProjectChannelsRequest,
  PaymentScenario,
  PaymentServiceService,
  RegisterChannelRequest,
  RoutingRule,
  SetChannelStatusRequest,
  SetChannelStatusResponse,
  SetRoutingRulesRequest,
} from '@citybase/contracts/citybase/payment/v1/payment';
import {
  PromiseClient,
  SandboxChannelProcess,
  ServiceHarness,
  ServiceUnderTest,
  spawnSandboxChannel,
  startServiceHarness,
  TEST_PAYMENT_CREDENTIALS_KEY,
  TestIssuer,
  TestTokenOptions,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import {
  ChannelAccount,
  ChannelRejectedError,
  ChannelSignatureError,
  ChannelUnavailableError,
} from '../src/channels/channel-adapter';
import { ChannelAdapters } from '../src/channels/channel-adapters';
import { CredentialsCipher } from '../src/channels/channel-credentials';
import { ChannelRouter } from '../src/channels/channel-router';
import { SandboxAdapter } from '../src/channels/sandbox-adapter';
import { definition } from '../src/definition';
import { channelCounts, databaseText, expectGrpcError, NotificationReceiver, text } from './channels-helpers';

type Payments = PromiseClient<typeof PaymentServiceService>;

const SANDBOX = ChannelKind.CHANNEL_KIND_SANDBOX;
const PARKING = PaymentScenario.PAYMENT_SCENARIO_PARKING;
const GOODS = PaymentScenario.PAYMENT_SCENARIO_GOODS;

describe('payment channels: catalog, project accounts, routing rules (in-process service, PostgreSQL, Kafka, sandbox)', () => {
  let h: ServiceHarness;
  let svc: ServiceUnderTest;
  let pg: Client;
  let pool: Pool;
  let issuer: TestIssuer;
  let sandbox: SandboxChannelProcess;

  /** A client with a fixed client id (request ids are a namespace per client). */
  const client = (opts: TestTokenOptions & { sub: string }): Payments =>
    h.client(PaymentServiceService, () => issuer.metadata(opts));
  const ALL = ['payment:channels.admin', 'payment:channels.write', 'payment:read'];
  let admin: Payments; // unrestricted city administrator
  let admin2: Payments; // another one, to show request ids are per client
  let op1: Payments; // operator op-1's console (may even hold the admin scopes, but is restricted)
  let op1Admin: Payments; // city:admin scope, but restricted to op-1: not an unrestricted admin
  let op2: Payments; // a foreign operator
  let projA: Payments; // a client bound to one project only
  let reader: Payments; // payment:read only

  beforeAll(async () => {
    sandbox = await spawnSandboxChannel();
    h = await startServiceHarness({
      definition,
      grpcService: PaymentServiceService,
      label: 'payment',
      poolSize: 2,
    });
    ({ issuer, svc, pg, pool } = h);
    admin = client({ sub: 'city-admin', scopes: ['city:admin', ...ALL] });
    admin2 = client({ sub: 'city-admin-2', scopes: ['city:admin', ...ALL] });
    op1 = client({ sub: 'op-1-console', scopes: ALL, operators: ['op-1'] });
    op1Admin = client({ sub: 'op-1-admin', scopes: ['city:admin', ...ALL], operators: ['op-1'] });
    op2 = client({ sub: 'op-2-console', scopes: ALL, operators: ['op-2'] });
    projA = client({ sub: 'proj-a-app', scopes: ALL, projects: ['proj-a'] });
    reader = client({ sub: 'reader', scopes: ['payment:read'], operators: ['op-1'] });
  });

  afterAll(async () => {
    await h?.stop();
    await sandbox?.stop();
  });

  // ---- helpers -----------------------------------------------------------------------------------

  const secretOf = (label: string) => `${label}-secret-${uniqueName('k')}`; // 16+ characters, unique

  const registerReq = (over: Partial<RegisterChannelRequest> = {}): RegisterChannelRequest => ({
    requestId: uniqueName('req'),
    channelId: uniqueName('ch'),
    kind: SANDBOX,
    displayName: 'City sandbox',
    endpoint: sandbox.url,
    ...over,
  });

  const register = async (over: Partial<RegisterChannelRequest> = {}) =>
    (await admin.registerChannel(registerReq(over))).channel!;

  const configureReq = (
    projectId: string,
    channelId: string,
    over: Partial<ConfigureProjectChannelRequest> = {},
  ): ConfigureProjectChannelRequest => ({
    requestId: uniqueName('req'),
    tenancy: { operatorId: 'op-1', projectId, merchantId: '' },
    channelId,
    merchantNo: `m-${projectId}-${channelId}`.slice(0, 64),
    credentials: secretOf('cfg'),
    enabled: true,
    ...over,
  });

  const rule = (channelId: string, over: Partial<RoutingRule> = {}): RoutingRule => ({
    channelId,
    priority: 0,
    weight: 1,
    scenarios: [],
    minAmountMinor: 0n,
    maxAmountMinor: 0n,
    ...over,
  });

  const rulesReq = (projectId: string, rules: RoutingRule[], over: Partial<SetRoutingRulesRequest> = {}) => ({
    requestId: uniqueName('req'),
    tenancy: { operatorId: 'op-1', projectId, merchantId: '' },
    rules,
    ...over,
  });

  const router = () =>
    new ChannelRouter(
      CredentialsCipher.fromConfig(TEST_PAYMENT_CREDENTIALS_KEY),
      new ChannelAdapters(new Map([[SANDBOX, new SandboxAdapter({ timeoutMs: 2_000 })]])),
    );

  // ---- catalog -----------------------------------------------------------------------------------

  describe('catalog', () => {
    it('registers a channel for a city admin, lists it to any reader, and disables and re-enables it', async () => {
      const req = registerReq({ displayName: 'Sandbox (Shenzhen)' });
      const { channel } = await admin.registerChannel(req);
      expect(channel).toMatchObject({
        channelId: req.channelId,
        kind: SANDBOX,
        displayName: 'Sandbox (Shenzhen)',
        endpoint: sandbox.url,
        enabled: true,
      });
      expect(channel!.createdAt!.seconds).toBeGreaterThan(0n);
      const listed = (await reader.listChannels({})).channels.find((c) => c.channelId === req.channelId);
      expect(listed).toEqual(channel);

      const off = await admin.setChannelStatus({
        requestId: uniqueName('req'),
        channelId: req.channelId,
        enabled: false,
      });
      expect(off.channel).toEqual({ ...channel, enabled: false });
      const on = await admin.setChannelStatus({
        requestId: uniqueName('req'),
        channelId: req.channelId,
        enabled: true,
      });
      expect(on.channel).toEqual(channel);
    });

    it('lets only an unrestricted city admin register or change channels (PERMISSION_DENIED, nothing written)', async () => {
      const existing = await register();
      const before = await channelCounts(pg);
      for (const c of [op1, op1Admin, projA]) {
        await expectGrpcError(c.registerChannel(registerReq()), {
          code: status.PERMISSION_DENIED,
          domainCode: 'CITY_ADMIN_REQUIRED',
        });
        await expectGrpcError(
          c.setChannelStatus({ requestId: uniqueName('req'), channelId: existing.channelId, enabled: false }),
          { code: status.PERMISSION_DENIED, domainCode: 'CITY_ADMIN_REQUIRED' },
        );
      }
      // without the scope the transport refuses before the handler
      await expectGrpcError(reader.registerChannel(registerReq()), { code: status.PERMISSION_DENIED });
      expect(await channelCounts(pg)).toEqual(before);
    });

    it('refuses kinds without an adapter in this build with FAILED_PRECONDITION, writing nothing', async () => {
      const before = await channelCounts(pg);
      for (const [kind, name] of [
        [ChannelKind.CHANNEL_KIND_WECHAT_PAY, 'CHANNEL_KIND_WECHAT_PAY'],
        [ChannelKind.CHANNEL_KIND_ALIPAY, 'CHANNEL_KIND_ALIPAY'],
        [ChannelKind.CHANNEL_KIND_UNIONPAY, 'CHANNEL_KIND_UNIONPAY'],
        [ChannelKind.CHANNEL_KIND_LOCAL_BANK, 'CHANNEL_KIND_LOCAL_BANK'],
        [ChannelKind.CHANNEL_KIND_WALLET, 'CHANNEL_KIND_WALLET'],
      ] as const) {
        await expectGrpcError(admin.registerChannel(registerReq({ kind })), {
          code: status.FAILED_PRECONDITION,
          details: `no adapter for ${name} in this build`,
          domainCode: 'NO_ADAPTER',
        });
      }
      expect(await channelCounts(pg)).toEqual(before);
    });

    it('refuses a taken channel id (ALREADY_EXISTS) and an unknown one on SetChannelStatus (NOT_FOUND)', async () => {
      const existing = await register();
      const before = await channelCounts(pg);
      await expectGrpcError(admin.registerChannel(registerReq({ channelId: existing.channelId })), {
        code: status.ALREADY_EXISTS,
        field: 'channel_id',
        domainCode: 'CHANNEL_EXISTS',
      });
      await expectGrpcError(
        admin.setChannelStatus({ requestId: uniqueName('req'), channelId: 'no-such-channel', enabled: true }),
        { code: status.NOT_FOUND, field: 'channel_id' },
      );
      expect(await channelCounts(pg)).toEqual(before);
    });
  });

  // ---- project accounts --------------------------------------------------------------------------

  describe('project channel accounts', () => {
    it('configures an account: returned without credentials, stored encrypted, never logged', async () => {
      const ch = await register();
      const secret = secretOf('merchant-key');
      const projectId = uniqueName('proj');
      const { projectChannel } = await op1.configureProjectChannel(
        configureReq(projectId, ch.channelId, { credentials: secret, merchantNo: 'm-1001' }),
      );
      expect(projectChannel).toMatchObject({
        operatorId: 'op-1',
        projectId,
        channelId: ch.channelId,
        merchantNo: 'm-1001',
        hasCredentials: true,
        enabled: true,
      });
      const got = await op1.getProjectChannels({
        tenancy: { operatorId: 'op-1', projectId, merchantId: '' },
      });
      expect(got).toEqual({ channels: [projectChannel], rules: [] });

      for (const response of [projectChannel, got]) expect(text(response)).not.toContain(secret);
      await new Promise((r) => setTimeout(r, 200)); // let the log line be flushed
      expect(svc.output()).toContain('project channel configured');
      expect(svc.output()).not.toContain(secret);
      const dump = await databaseText(pg);
      expect(dump).toContain(projectId);
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(Buffer.from(secret).toString('hex'));
      expect(dump).not.toContain(Buffer.from(secret).toString('base64'));

      // ...and it is the documented AES-256-GCM seal under PAYMENT_CREDENTIALS_KEY, bound to the row
      const { rows } = await pg.query<{ credentials_enc: Buffer }>(
        'SELECT credentials_enc FROM project_channels WHERE project_id = $1',
        [projectId],
      );
      const cipher = CredentialsCipher.fromConfig(TEST_PAYMENT_CREDENTIALS_KEY);
      expect(cipher.open(rows[0]!.credentials_enc, { projectId, channelId: ch.channelId })).toBe(secret);
      expect(() =>
        cipher.open(rows[0]!.credentials_enc, { projectId: 'proj-x', channelId: ch.channelId }),
      ).toThrow();
    });

    it('keeps the stored credentials when a reconfiguration sends none, and replaces them when it sends new ones', async () => {
      const ch = await register();
      const projectId = uniqueName('proj');
      const first = secretOf('first');
      await op1.configureProjectChannel(configureReq(projectId, ch.channelId, { credentials: first }));
      const stored = async () =>
        (
          await pg.query<{ credentials_enc: Buffer; merchant_no: string; enabled: boolean }>(
            'SELECT credentials_enc, merchant_no, enabled FROM project_channels WHERE project_id = $1',
            [projectId],
          )
        ).rows[0]!;
      const before = await stored();
      const { projectChannel } = await op1.configureProjectChannel(
        configureReq(projectId, ch.channelId, { credentials: '', merchantNo: 'm-new', enabled: false }),
      );
      expect(projectChannel).toMatchObject({ merchantNo: 'm-new', enabled: false, hasCredentials: true });
      const kept = await stored();
      expect(kept.credentials_enc.equals(before.credentials_enc)).toBe(true);
      const second = secretOf('second');
      await op1.configureProjectChannel(configureReq(projectId, ch.channelId, { credentials: second }));
      const cipher = CredentialsCipher.fromConfig(TEST_PAYMENT_CREDENTIALS_KEY);
      expect(cipher.open((await stored()).credentials_enc, { projectId, channelId: ch.channelId })).toBe(
        second,
      );
    });

    it('needs credentials the first time, an existing channel, and an enabled one to enable the account', async () => {
      const ch = await register();
      const off = await register();
      await admin.setChannelStatus({
        requestId: uniqueName('req'),
        channelId: off.channelId,
        enabled: false,
      });
      const projectId = uniqueName('proj');
      const before = await channelCounts(pg);
      await expectGrpcError(
        op1.configureProjectChannel(configureReq(projectId, ch.channelId, { credentials: '' })),
        {
          code: status.INVALID_ARGUMENT,
          field: 'credentials',
          domainCode: 'CREDENTIALS_REQUIRED',
        },
      );
      await expectGrpcError(op1.configureProjectChannel(configureReq(projectId, 'no-such-channel')), {
        code: status.NOT_FOUND,
        field: 'channel_id',
      });
      await expectGrpcError(op1.configureProjectChannel(configureReq(projectId, off.channelId)), {
        code: status.FAILED_PRECONDITION,
        field: 'channel_id',
        domainCode: 'CHANNEL_DISABLED',
      });
      expect(await channelCounts(pg)).toEqual(before);
      // turning an account off is allowed on a disabled channel
      const { projectChannel } = await op1.configureProjectChannel(
        configureReq(projectId, off.channelId, { enabled: false }),
      );
      expect(projectChannel).toMatchObject({ enabled: false, hasCredentials: true });
    });

    it('keeps foreign tenants out: PERMISSION_DENIED to act, PERMISSION_DENIED or empty lists to read', async () => {
      const ch = await register();
      const projectId = 'proj-a';
      await op1.configureProjectChannel(configureReq(projectId, ch.channelId, { merchantNo: 'm-proj-a' }));
      await op1.setRoutingRules(rulesReq(projectId, [rule(ch.channelId)]));
      const before = await channelCounts(pg);
      const mine = { operatorId: 'op-1', projectId, merchantId: '' };
      const theirs = { operatorId: 'op-2', projectId, merchantId: '' };

      // op-2 naming op-1's project under op-1: outside its tenancy
      await expectGrpcError(op2.configureProjectChannel(configureReq(projectId, ch.channelId)), {
        code: status.PERMISSION_DENIED,
      });
      await expectGrpcError(op2.setRoutingRules(rulesReq(projectId, [rule(ch.channelId)])), {
        code: status.PERMISSION_DENIED,
      });
      await expectGrpcError(op2.getProjectChannels({ tenancy: mine }), { code: status.PERMISSION_DENIED });
      // op-2 naming op-1's project under itself: the stored rows say op-1, so still outside its tenancy
      await expectGrpcError(
        op2.configureProjectChannel(configureReq(projectId, ch.channelId, { tenancy: theirs })),
        {
          code: status.PERMISSION_DENIED,
        },
      );
      await expectGrpcError(
        op2.setRoutingRules(rulesReq(projectId, [rule(ch.channelId)], { tenancy: theirs })),
        {
          code: status.PERMISSION_DENIED,
        },
      );
      expect(await op2.getProjectChannels({ tenancy: theirs })).toEqual({ channels: [], rules: [] });
      // the project's own client with a wrong operator: no data, and it cannot move the project
      expect(
        await projA.getProjectChannels({ tenancy: { operatorId: 'op-9', projectId, merchantId: '' } }),
      ).toEqual({ channels: [], rules: [] });
      await expectGrpcError(
        projA.configureProjectChannel(
          configureReq(projectId, ch.channelId, {
            tenancy: { operatorId: 'op-9', projectId, merchantId: '' },
          }),
        ),
        {
          code: status.INVALID_ARGUMENT,
          field: 'tenancy.operator_id',
          domainCode: 'PROJECT_OPERATOR_MISMATCH',
        },
      );
      // a project client may not touch another project
      await expectGrpcError(
        projA.getProjectChannels({ tenancy: { operatorId: 'op-1', projectId: 'proj-b', merchantId: '' } }),
        { code: status.PERMISSION_DENIED },
      );
      expect(await channelCounts(pg)).toEqual(before);

      // the project's client, the operator and the city admin all see it
      for (const c of [projA, op1, admin, reader]) {
        const got = await c.getProjectChannels({ tenancy: mine });
        expect(got.channels.map((pc) => pc.merchantNo)).toEqual(['m-proj-a']);
        expect(got.rules).toEqual([rule(ch.channelId)]);
      }
    });

    it('answers an unconfigured project with empty lists, not NOT_FOUND', async () => {
      expect(
        await op1.getProjectChannels({
          tenancy: { operatorId: 'op-1', projectId: uniqueName('proj'), merchantId: '' },
        }),
      ).toEqual({ channels: [], rules: [] });
    });
  });

  // ---- routing rules -----------------------------------------------------------------------------

  describe('routing rules', () => {
    it('replaces all rules at once and returns them in order with exact int64 bounds', async () => {
      const a = await register();
      const b = await register();
      const projectId = uniqueName('proj');
      await op1.configureProjectChannel(configureReq(projectId, a.channelId));
      await op1.configureProjectChannel(configureReq(projectId, b.channelId));
      const rules = [
        rule(a.channelId, {
          priority: 0,
          weight: 7000,
          scenarios: [PARKING, GOODS],
          maxAmountMinor: 9_007_199_254_740_993n,
        }),
        rule(b.channelId, { priority: 0, weight: 3000 }),
        rule(b.channelId, { priority: 1000, weight: 10_000, minAmountMinor: 1n }),
      ];
      expect((await op1.setRoutingRules(rulesReq(projectId, rules))).rules).toEqual(rules);
      const tenancy = { operatorId: 'op-1', projectId, merchantId: '' };
      expect((await op1.getProjectChannels({ tenancy })).rules).toEqual(rules);
      const next = [rule(b.channelId, { priority: 5 })];
      expect((await op1.setRoutingRules(rulesReq(projectId, next))).rules).toEqual(next);
      expect((await op1.getProjectChannels({ tenancy })).rules).toEqual(next);
    });

    it('refuses a rule whose channel is not configured for the project, leaving the old rules in place', async () => {
      const a = await register();
      const notMine = await register();
      const projectId = uniqueName('proj');
      await op1.configureProjectChannel(configureReq(projectId, a.channelId));
      const old = [rule(a.channelId)];
      await op1.setRoutingRules(rulesReq(projectId, old));
      // configured for another project only
      await op1.configureProjectChannel(configureReq(uniqueName('proj'), notMine.channelId));
      const before = await channelCounts(pg);
      await expectGrpcError(
        op1.setRoutingRules(
          rulesReq(projectId, [rule(a.channelId, { priority: 1 }), rule(notMine.channelId)]),
        ),
        {
          code: status.FAILED_PRECONDITION,
          field: 'rules[1].channel_id',
          domainCode: 'CHANNEL_NOT_CONFIGURED',
        },
      );
      expect(await channelCounts(pg)).toEqual(before);
      const tenancy = { operatorId: 'op-1', projectId, merchantId: '' };
      expect((await op1.getProjectChannels({ tenancy })).rules).toEqual(old);
    });
  });

  // ---- idempotency -------------------------------------------------------------------------------

  describe('idempotency by request id, per client', () => {
    it('answers a retry with what the first call wrote, as it is now, writing nothing; refuses the key with another body', async () => {
      const ch = await register();
      const projectId = uniqueName('proj');
      const cases: [string, () => Promise<unknown>, () => Promise<unknown>][] = [];
      const reg = registerReq();
      cases.push([
        'RegisterChannel',
        () => admin.registerChannel(reg),
        () => admin.registerChannel({ ...reg, displayName: 'other' }),
      ]);
      const st = {
        requestId: uniqueName('req'),
        channelId: ch.channelId,
        enabled: false,
      } satisfies SetChannelStatusRequest;
      cases.push([
        'SetChannelStatus',
        () => admin.setChannelStatus(st),
        () => admin.setChannelStatus({ ...st, enabled: true }),
      ]);
      const cfg = configureReq(projectId, ch.channelId);
      cases.push([
        'ConfigureProjectChannel',
        () => op1.configureProjectChannel(cfg),
        () => op1.configureProjectChannel({ ...cfg, credentials: secretOf('other') }),
      ]);
      const rr = rulesReq(projectId, [rule(ch.channelId)]);
      cases.push([
        'SetRoutingRules',
        () => op1.setRoutingRules(rr),
        () => op1.setRoutingRules({ ...rr, rules: [rule(ch.channelId, { weight: 2 })] }),
      ]);
      // enable the channel again before configuring an enabled account on it
      const reenable = { requestId: uniqueName('req'), channelId: ch.channelId, enabled: true };
      for (const [name, same, different] of cases) {
        const first = await same();
        if (name === 'SetChannelStatus') await admin.setChannelStatus(reenable);
        const before = await channelCounts(pg);
        const again = await same();
        if (name === 'SetChannelStatus') {
          // a retry answers the channel as it is now (enabled again since), not a copy of the first answer
          const { channel } = first as SetChannelStatusResponse;
          expect(again).toEqual({ channel: { ...channel, enabled: true } });
        } else expect([name, again]).toEqual([name, first]);
        expect([name, await channelCounts(pg)]).toEqual([name, before]);
        await expectGrpcError(different(), {
          code: status.ALREADY_EXISTS,
          field: 'request_id',
          domainCode: 'REQUEST_ID_REUSED',
          details: 'request_id: already used for a different request',
        });
        expect([name, await channelCounts(pg)]).toEqual([name, before]);
      }
      // the retry of SetChannelStatus(false) did not disable the channel again
      expect((await admin.listChannels({})).channels.find((c) => c.channelId === ch.channelId)?.enabled).toBe(
        true,
      );
    });

    it('keeps request ids apart per client', async () => {
      const requestId = uniqueName('req');
      const one = await admin.registerChannel(registerReq({ requestId }));
      const two = await admin2.registerChannel(registerReq({ requestId }));
      expect(two.channel!.channelId).not.toBe(one.channel!.channelId);
    });

    it('turns 20 concurrent identical configurations into one write', async () => {
      const ch = await register();
      const projectId = uniqueName('proj');
      const req = configureReq(projectId, ch.channelId);
      const answers = await Promise.all(Array.from({ length: 20 }, () => op1.configureProjectChannel(req)));
      expect(new Set(answers.map((a) => text(a))).size).toBe(1);
      const { rows } = await pg.query(
        'SELECT count(*)::int AS n FROM project_channels WHERE project_id = $1',
        [projectId],
      );
      expect(rows[0].n).toBe(1);
    });
  });

  // ---- bad input ---------------------------------------------------------------------------------

  describe('bad input: INVALID_ARGUMENT naming the field, nothing written', () => {
    let ch: string;
    let projectId: string;
    beforeAll(async () => {
      ch = (await register()).channelId;
      projectId = uniqueName('proj');
      await op1.configureProjectChannel(configureReq(projectId, ch));
    });

    const tenancy = (over: Partial<{ operatorId: string; projectId: string; merchantId: string }> = {}) => ({
      operatorId: 'op-1',
      projectId: 'proj-x',
      merchantId: '',
      ...over,
    });

    // one call per RPC, with what a case changes in an otherwise valid request
    const registering = (over: Partial<RegisterChannelRequest>) => () =>
      admin.registerChannel(registerReq(over));
    const configuring =
      (over: Partial<ConfigureProjectChannelRequest>, channelId = ch) =>
      () =>
        op1.configureProjectChannel(configureReq(projectId, channelId, over));
    const settingRules =
      (rules: RoutingRule[], over: Partial<SetRoutingRulesRequest> = {}) =>
      () =>
        op1.setRoutingRules(rulesReq(projectId, rules, over));

    type Case = [string, () => Promise<unknown>, string, string];
    const cases = (): Case[] => [
      // RegisterChannel
      ['register: no request_id', registering({ requestId: '' }), 'request_id', 'is required'],
      [
        'register: request_id with a space',
        registering({ requestId: 'a b' }),
        'request_id',
        'must be printable ASCII without spaces',
      ],
      ['register: no channel_id', registering({ channelId: '' }), 'channel_id', 'is required'],
      [
        'register: uppercase channel_id',
        registering({ channelId: 'WeChat' }),
        'channel_id',
        'must be 1-40 lowercase letters, digits or dashes',
      ],
      [
        'register: 41-character channel_id',
        registering({ channelId: 'a'.repeat(41) }),
        'channel_id',
        'must be at most 40 characters',
      ],
      [
        'register: unspecified kind',
        registering({ kind: ChannelKind.CHANNEL_KIND_UNSPECIFIED }),
        'kind',
        'is required',
      ],
      ['register: unknown kind', registering({ kind: 42 as ChannelKind }), 'kind', 'unknown value 42'],
      ['register: no display_name', registering({ displayName: ' ' }), 'display_name', 'is required'],
      [
        'register: 101-character display_name',
        registering({ displayName: 'x'.repeat(101) }),
        'display_name',
        'must be at most 100 characters',
      ],
      ['register: no endpoint', registering({ endpoint: '' }), 'endpoint', 'is required'],
      [
        'register: ftp endpoint',
        registering({ endpoint: 'ftp://x.example' }),
        'endpoint',
        'must be an http(s) URL without user info, query or fragment',
      ],
      [
        'register: endpoint with user info',
        registering({ endpoint: 'https://u:p@x.example' }),
        'endpoint',
        'must be an http(s) URL without user info, query or fragment',
      ],
      [
        'register: endpoint with a query',
        registering({ endpoint: 'https://x.example/?a=1' }),
        'endpoint',
        'must be an http(s) URL without user info, query or fragment',
      ],
      [
        'register: not a URL',
        registering({ endpoint: 'not a url' }),
        'endpoint',
        'must be an http(s) URL without user info, query or fragment',
      ],
      [
        'register: 501-character endpoint',
        registering({ endpoint: `https://x.example/${'a'.repeat(483)}` }),
        'endpoint',
        'must be at most 500 characters',
      ],
      // SetChannelStatus
      [
        'status: no request_id',
        () => admin.setChannelStatus({ requestId: '', channelId: ch, enabled: false }),
        'request_id',
        'is required',
      ],
      [
        'status: no channel_id',
        () => admin.setChannelStatus({ requestId: 'r-1', channelId: '', enabled: false }),
        'channel_id',
        'is required',
      ],
      [
        'status: bad channel_id',
        () => admin.setChannelStatus({ requestId: 'r-1', channelId: 'a/b', enabled: false }),
        'channel_id',
        'must be 1-40 lowercase letters, digits or dashes',
      ],
      // ConfigureProjectChannel
      ['configure: no request_id', configuring({ requestId: '' }), 'request_id', 'is required'],
      ['configure: no tenancy', configuring({ tenancy: undefined }), 'tenancy.operator_id', 'is required'],
      [
        'configure: no project',
        configuring({ tenancy: tenancy({ projectId: '' }) }),
        'tenancy.project_id',
        'is required',
      ],
      [
        'configure: bad project id',
        configuring({ tenancy: tenancy({ projectId: 'p/1' }) }),
        'tenancy.project_id',
        'must be 1-64 letters, digits, dots, dashes, colons or underscores',
      ],
      [
        'configure: 65-character project id',
        configuring({ tenancy: tenancy({ projectId: 'p'.repeat(65) }) }),
        'tenancy.project_id',
        'must be at most 64 characters',
      ],
      [
        'configure: bad operator id',
        configuring({ tenancy: tenancy({ operatorId: 'op 1' }) }),
        'tenancy.operator_id',
        'must be 1-64 letters, digits, dots, dashes, colons or underscores',
      ],
      [
        'configure: a merchant in tenancy',
        configuring({ tenancy: tenancy({ merchantId: 'm-1' }) }),
        'tenancy.merchant_id',
        'must be empty: channel accounts belong to a project',
      ],
      ['configure: no channel_id', configuring({}, ''), 'channel_id', 'is required'],
      ['configure: no merchant_no', configuring({ merchantNo: '' }), 'merchant_no', 'is required'],
      [
        'configure: 65-character merchant_no',
        configuring({ merchantNo: 'm'.repeat(65) }),
        'merchant_no',
        'must be at most 64 characters',
      ],
      [
        'configure: merchant_no with a space',
        configuring({ merchantNo: 'm 1' }),
        'merchant_no',
        'must be 1-64 printable ASCII characters without spaces',
      ],
      [
        'configure: 15-character credentials',
        configuring({ credentials: 'k'.repeat(15) }),
        'credentials',
        'must be 16-512 characters',
      ],
      [
        'configure: 513-character credentials',
        configuring({ credentials: 'k'.repeat(513) }),
        'credentials',
        'must be 16-512 characters',
      ],
      [
        'configure: credentials with a newline',
        configuring({ credentials: `${'k'.repeat(16)}\n` }),
        'credentials',
        'must not contain control characters',
      ],
      // SetRoutingRules
      ['rules: no request_id', settingRules([rule(ch)], { requestId: '' }), 'request_id', 'is required'],
      [
        'rules: no tenancy',
        settingRules([rule(ch)], { tenancy: undefined }),
        'tenancy.operator_id',
        'is required',
      ],
      [
        'rules: bad project id',
        settingRules([rule(ch)], { tenancy: tenancy({ projectId: 'p?' }) }),
        'tenancy.project_id',
        'must be 1-64 letters, digits, dots, dashes, colons or underscores',
      ],
      ['rules: none', settingRules([]), 'rules', 'must have 1-50 rules'],
      [
        'rules: 51',
        settingRules(Array.from({ length: 51 }, () => rule(ch))),
        'rules',
        'must have 1-50 rules',
      ],
      ['rules: no channel_id', settingRules([rule(ch), rule('')]), 'rules[1].channel_id', 'is required'],
      [
        'rules: priority -1',
        settingRules([rule(ch, { priority: -1 })]),
        'rules[0].priority',
        'must be 0..1000',
      ],
      [
        'rules: priority 1001',
        settingRules([rule(ch, { priority: 1001 })]),
        'rules[0].priority',
        'must be 0..1000',
      ],
      ['rules: weight 0', settingRules([rule(ch, { weight: 0 })]), 'rules[0].weight', 'must be 1..10000'],
      [
        'rules: weight 10001',
        settingRules([rule(ch, { weight: 10_001 })]),
        'rules[0].weight',
        'must be 1..10000',
      ],
      [
        'rules: unspecified scenario',
        settingRules([rule(ch, { scenarios: [PARKING, PaymentScenario.PAYMENT_SCENARIO_UNSPECIFIED] })]),
        'rules[0].scenarios[1]',
        'is required',
      ],
      [
        'rules: unknown scenario',
        settingRules([rule(ch, { scenarios: [77 as PaymentScenario] })]),
        'rules[0].scenarios[0]',
        'unknown value 77',
      ],
      [
        'rules: repeated scenario',
        settingRules([rule(ch, { scenarios: [PARKING, PARKING] })]),
        'rules[0].scenarios[1]',
        'repeats PAYMENT_SCENARIO_PARKING',
      ],
      [
        'rules: negative min',
        settingRules([rule(ch, { minAmountMinor: -1n })]),
        'rules[0].min_amount_minor',
        'must not be negative',
      ],
      [
        'rules: negative max',
        settingRules([rule(ch, { maxAmountMinor: -5n })]),
        'rules[0].max_amount_minor',
        'must not be negative',
      ],
      [
        'rules: min above max',
        settingRules([rule(ch), rule(ch, { minAmountMinor: 10n, maxAmountMinor: 9n })]),
        'rules[1].max_amount_minor',
        'must be 0 (no upper bound) or at least min_amount_minor',
      ],
      // GetProjectChannels (nothing to write, but the same validation)
      [
        'get: no tenancy',
        () => op1.getProjectChannels({ tenancy: undefined } as GetProjectChannelsRequest),
        'tenancy.operator_id',
        'is required',
      ],
      [
        'get: no project',
        () => op1.getProjectChannels({ tenancy: tenancy({ projectId: '' }) }),
        'tenancy.project_id',
        'is required',
      ],
      [
        'get: bad project id',
        () => op1.getProjectChannels({ tenancy: tenancy({ projectId: 'p#1' }) }),
        'tenancy.project_id',
        'must be 1-64 letters, digits, dots, dashes, colons or underscores',
      ],
    ];

    it('refuses every case with the field and rule, and writes nothing', async () => {
      const before = await channelCounts(pg);
      const results: string[] = [];
      for (const [name, call] of cases()) {
        const err = await call().then(
          () => undefined,
          (e: { code: number; details: string; metadata: { get(k: string): unknown[] } }) => e,
        );
        results.push(
          `${name}: ${err ? `${status[err.code]} ${String(err.metadata.get('citybase-error-field')[0])} ${err.details}` : 'accepted'}`,
        );
      }
      expect(results).toEqual(
        cases().map(([name, , field, rule]) => `${name}: INVALID_ARGUMENT ${field} ${field}: ${rule}`),
      );
      expect(await channelCounts(pg)).toEqual(before);
    });
  });

  // ---- ChannelRouter against the database ----------------------------------------------------------

  describe('ChannelRouter on the stored configuration', () => {
    it('routes by scenario, amount, priority and weight, skips disabled channels and accounts, and still finds their accounts', async () => {
      const a = await register();
      const b = await register();
      const c = await register();
      const projectId = uniqueName('proj');
      const secrets = { a: secretOf('a'), b: secretOf('b'), c: secretOf('c') };
      await op1.configureProjectChannel(
        configureReq(projectId, a.channelId, { credentials: secrets.a, merchantNo: 'm-a' }),
      );
      await op1.configureProjectChannel(
        configureReq(projectId, b.channelId, { credentials: secrets.b, merchantNo: 'm-b' }),
      );
      await op1.configureProjectChannel(
        configureReq(projectId, c.channelId, { credentials: secrets.c, merchantNo: 'm-c' }),
      );
      await op1.setRoutingRules(
        rulesReq(projectId, [
          rule(a.channelId, { priority: 0, weight: 3, scenarios: [PARKING], maxAmountMinor: 10_000n }),
          rule(b.channelId, { priority: 0, weight: 1, scenarios: [PARKING] }),
          rule(c.channelId, { priority: 10 }),
        ]),
      );
      const r = router();
      const q = { operatorId: 'op-1', projectId, scenario: PARKING, amountMinor: 500n };
      const ids = async (over: Partial<typeof q> & { random?: () => number } = {}) =>
        (await r.candidates(pool, { ...q, ...over })).map((x) => x.account.channelId);

      expect(await ids({ random: () => 0 })).toEqual([a.channelId, b.channelId, c.channelId]);
      expect(await ids({ random: () => 0.99 })).toEqual([b.channelId, a.channelId, c.channelId]);
      expect(await ids({ amountMinor: 10_001n, random: () => 0 })).toEqual([b.channelId, c.channelId]);
      expect(await ids({ scenario: GOODS })).toEqual([c.channelId]);
      // another operator naming the project gets nothing
      expect(await ids({ operatorId: 'op-2' })).toEqual([]);

      const [first] = await r.candidates(pool, { ...q, random: () => 0 });
      expect(first).toMatchObject({
        kind: SANDBOX,
        account: { channelId: a.channelId, endpoint: sandbox.url, merchantNo: 'm-a', credentials: secrets.a },
      });
      expect(first!.adapter).toBeInstanceOf(SandboxAdapter);

      // channel a disabled city-wide, account b disabled by the project
      await admin.setChannelStatus({ requestId: uniqueName('req'), channelId: a.channelId, enabled: false });
      await op1.configureProjectChannel(
        configureReq(projectId, b.channelId, { credentials: '', merchantNo: 'm-b', enabled: false }),
      );
      expect(await ids({ random: () => 0 })).toEqual([c.channelId]);
      // money already at a disabled channel stays reachable
      expect((await r.account(pool, { projectId, channelId: a.channelId }))?.account).toEqual({
        channelId: a.channelId,
        endpoint: sandbox.url,
        merchantNo: 'm-a',
        credentials: secrets.a,
      });
      expect((await r.account(pool, { projectId, channelId: b.channelId }))?.account.credentials).toBe(
        secrets.b,
      );
      expect(await r.account(pool, { projectId, channelId: 'no-such' })).toBeUndefined();
      await admin.setChannelStatus({ requestId: uniqueName('req'), channelId: c.channelId, enabled: false });
      expect(await ids()).toEqual([]);
    });
  });

  // ---- SandboxAdapter against the sandbox process --------------------------------------------------

  describe('SandboxAdapter against the real sandbox process', () => {
    const adapter = new SandboxAdapter({ timeoutMs: 1_500 });
    let account: ChannelAccount;
    let receiver: NotificationReceiver;
    const expiresAt = () => new Date(Date.now() + 15 * 60_000);
    /** The provider's day (UTC+8) of now. */
    const providerDay = () => new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);

    beforeAll(async () => {
      receiver = await NotificationReceiver.start();
      // the account as the router gives it: stored via gRPC, decrypted from the database
      const ch = await register();
      const projectId = uniqueName('proj');
      const secret = secretOf('sandbox');
      const merchantNo = uniqueName('m');
      await op1.configureProjectChannel(
        configureReq(projectId, ch.channelId, { credentials: secret, merchantNo }),
      );
      await sandbox.registerMerchant(merchantNo, secret);
      account = (await router().account(pool, { projectId, channelId: ch.channelId }))!.account;
    });

    afterAll(async () => {
      await sandbox.configure({ failureRate: 0, timeoutRate: 0 });
      await receiver?.stop();
    });

    const order = (paymentId: string, over: { amountMinor?: bigint; profitSharing?: boolean } = {}) =>
      adapter.createOrder(account, {
        paymentId,
        amountMinor: over.amountMinor ?? 10_000n,
        currency: 'CNY',
        description: 'parking 2h',
        notifyUrl: `${receiver.url}/channels/${account.channelId}/notifications/${paymentId}`,
        expiresAt: expiresAt(),
        profitSharing: over.profitSharing ?? false,
      });

    it('creates, queries and closes orders; a retry of createOrder is the same order', async () => {
      const paymentId = uniqueName('pay');
      const created = await order(paymentId, { amountMinor: 9_007_199_254_740_993n });
      expect(created).toMatchObject({ paymentId, status: 'NOTPAY', amountMinor: 9_007_199_254_740_993n });
      expect(created.payUrl).toContain(paymentId);
      expect(await order(paymentId, { amountMinor: 9_007_199_254_740_993n })).toEqual(created);
      await expect(order(paymentId, { amountMinor: 1n })).rejects.toMatchObject({ code: 'ORDER_MISMATCH' });
      expect(await adapter.queryOrder(account, paymentId)).toEqual(created);
      expect(await adapter.closeOrder(account, paymentId)).toMatchObject({ paymentId, status: 'CLOSED' });
      const missing = await adapter.queryOrder(account, uniqueName('nope')).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(ChannelRejectedError);
      expect(missing).toMatchObject({ code: 'ORDER_NOT_EXIST' });
    });

    it('follows a paid order: query, refund, query the refund, the statement; closing it keeps SUCCESS', async () => {
      const paymentId = uniqueName('pay');
      await order(paymentId, { amountMinor: 10_000n });
      await sandbox.pay(paymentId, 'success');
      const paid = await adapter.queryOrder(account, paymentId);
      expect(paid).toMatchObject({ paymentId, status: 'SUCCESS', amountMinor: 10_000n });
      expect(paid.transactionId).toBeTruthy();
      expect(paid.paidAt).toBeInstanceOf(Date);
      expect(await adapter.closeOrder(account, paymentId)).toMatchObject({ status: 'SUCCESS' });

      const refundId = uniqueName('ref');
      const refund = await adapter.refund(account, {
        paymentId,
        refundId,
        amountMinor: 4_000n,
        totalMinor: 10_000n,
        reason: 'left early',
        notifyUrl: `${receiver.url}/channels/${account.channelId}/refunds/${refundId}`,
      });
      expect(refund).toMatchObject({ refundId, paymentId, status: 'PROCESSING', amountMinor: 4_000n });
      const done = await waitFor('refund succeeded', async () => {
        const r = await adapter.queryRefund(account, paymentId, refundId);
        return r.status === 'SUCCESS' ? r : undefined;
      });
      expect(done.channelRefundId).toBeTruthy();
      expect(done.completedAt).toBeInstanceOf(Date);
      await expect(
        adapter.refund(account, {
          paymentId,
          refundId: uniqueName('ref'),
          amountMinor: 6_001n,
          totalMinor: 10_000n,
          reason: 'too much',
          notifyUrl: `${receiver.url}/r`,
        }),
      ).rejects.toMatchObject({ code: 'NOT_ENOUGH' });
      await expect(adapter.queryRefund(account, paymentId, uniqueName('ref'))).rejects.toMatchObject({
        code: 'REFUND_NOT_EXIST',
      });

      const lines = await adapter.statement(account, providerDay());
      expect(lines).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            kind: 'PAYMENT',
            paymentId,
            amountMinor: 10_000n,
            feeMinor: 60n,
            transactionId: paid.transactionId,
          }),
          expect.objectContaining({
            kind: 'REFUND',
            paymentId,
            refundId,
            amountMinor: 4_000n,
            feeMinor: 24n,
          }),
        ]),
      );
    });

    it('splits held funds of a profit-sharing order, takes a split back, and unfreezes the rest', async () => {
      const paymentId = uniqueName('pay');
      await order(paymentId, { amountMinor: 10_000n, profitSharing: true });
      await sandbox.pay(paymentId, 'success');
      const splitId = uniqueName('split');
      const receivers = [
        { account: 'platform', amountMinor: 600n, description: 'platform fee' },
        { account: 'merchant-sub-1', amountMinor: 3_000n, description: 'merchant share' },
      ];
      const split = await adapter.split(account, { paymentId, splitId, receivers, unfreezeRest: false });
      expect(split).toEqual({
        splitId,
        status: 'FINISHED',
        receivers: receivers.map((r) => ({ ...r, result: 'SUCCESS' })),
      });
      await expect(
        adapter.split(account, {
          paymentId,
          splitId: uniqueName('split'),
          receivers: [{ account: 'x', amountMinor: 6_401n, description: 'too much' }],
          unfreezeRest: false,
        }),
      ).rejects.toMatchObject({ code: 'NOT_ENOUGH' });
      const returnId = uniqueName('ret');
      expect(
        await adapter.splitReturn(account, {
          paymentId,
          splitId,
          returnId,
          account: 'platform',
          amountMinor: 600n,
        }),
      ).toEqual({ returnId, status: 'SUCCESS' });
      const unfreezeId = uniqueName('unfreeze');
      expect(await adapter.unfreeze(account, { paymentId, splitId: unfreezeId })).toMatchObject({
        splitId: unfreezeId,
        status: 'FINISHED',
      });
    });

    it('verifies a real notification from the sandbox and refuses it tampered, replayed to another path or with another key', async () => {
      const paymentId = uniqueName('pay');
      await order(paymentId, { amountMinor: 2_500n });
      await sandbox.pay(paymentId, 'success');
      const got = await waitFor('notification received', async () =>
        receiver.received.find((n) => n.url.endsWith(`/notifications/${paymentId}`)),
      );
      const headers = { ...got.headers, ':path': got.url };
      const parsed = adapter.verifyNotification(account, headers, got.raw);
      expect(parsed).toMatchObject({
        kind: 'order',
        order: { paymentId, status: 'SUCCESS', amountMinor: 2_500n },
      });
      expect(parsed.notificationId).toBeTruthy();

      const tampered = Buffer.from(got.raw.toString('utf8').replace('"2500"', '"25"'));
      expect(tampered.equals(got.raw)).toBe(false);
      expect(() => adapter.verifyNotification(account, headers, tampered)).toThrow(ChannelSignatureError);
      expect(() =>
        adapter.verifyNotification(
          account,
          { ...headers, ':path': `/channels/${account.channelId}/notifications/other` },
          got.raw,
        ),
      ).toThrow(ChannelSignatureError);
      expect(() =>
        adapter.verifyNotification({ ...account, credentials: 'another-merchant-key-000' }, headers, got.raw),
      ).toThrow(ChannelSignatureError);
      // too old: the same notification checked 301 s later
      const later = new SandboxAdapter({ timeoutMs: 1_000, now: () => new Date(Date.now() + 301_000) });
      expect(() => later.verifyNotification(account, headers, got.raw)).toThrow(/300 s/);
    });

    it('is refused by the sandbox with a wrong key (ChannelRejectedError SIGN_ERROR)', async () => {
      const err = await adapter
        .createOrder(
          { ...account, credentials: 'not-the-merchant-key-0000' },
          {
            paymentId: uniqueName('pay'),
            amountMinor: 100n,
            currency: 'CNY',
            description: 'x',
            notifyUrl: `${receiver.url}/n`,
            expiresAt: expiresAt(),
            profitSharing: false,
          },
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ChannelRejectedError);
      expect(err).toMatchObject({ code: 'SIGN_ERROR' });
    });

    it('gives ChannelUnavailableError when the sandbox fails (503) or never answers', async () => {
      await sandbox.configure({ failureRate: 1 });
      try {
        const paymentId = uniqueName('pay');
        await expect(order(paymentId)).rejects.toBeInstanceOf(ChannelUnavailableError);
        await expect(adapter.queryOrder(account, paymentId)).rejects.toBeInstanceOf(ChannelUnavailableError);
      } finally {
        await sandbox.configure({ failureRate: 0 });
      }
      await sandbox.configure({ timeoutRate: 1 });
      const paymentId = uniqueName('pay');
      try {
        const fast = new SandboxAdapter({ timeoutMs: 300 });
        const started = Date.now();
        await expect(
          fast.createOrder(account, {
            paymentId,
            amountMinor: 700n,
            currency: 'CNY',
            description: 'x',
            notifyUrl: `${receiver.url}/n`,
            expiresAt: expiresAt(),
            profitSharing: false,
          }),
        ).rejects.toThrow(/no answer in time/);
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        await sandbox.configure({ timeoutRate: 0 });
      }
      // the timed-out call did its work: the outcome was unknown, and a query resolves it
      expect(await adapter.queryOrder(account, paymentId)).toMatchObject({
        status: 'NOTPAY',
        amountMinor: 700n,
      });
    });
  });
});
