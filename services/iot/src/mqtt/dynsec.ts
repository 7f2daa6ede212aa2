import { randomUUID } from 'crypto';
import mqtt, { MqttClient } from 'mqtt';
import type { DynsecAcl } from './topics';

const CONTROL = '$CONTROL/dynamic-security/v1';
const RESPONSE = `${CONTROL}/response`;

/** One command of the dynamic-security API (https://mosquitto.org/documentation/dynamic-security/). */
export type DynsecCommand = { command: string } & Record<string, unknown>;

export class DynsecError extends Error {
  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`dynamic-security ${command} failed: ${reason}`);
    this.name = 'DynsecError';
  }
}

interface Pending {
  resolve: (responses: DynsecResponse[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}
interface DynsecResponse {
  command: string;
  error?: string;
  data?: unknown;
  correlationData?: string;
}

/**
 * The admin side of the project's broker: one MQTT connection with the dynamic-security admin
 * account, sending commands to $CONTROL/dynamic-security/v1 and matching the answers by
 * correlationData. Clients, roles and ACLs change at once on the running broker; deleting or
 * disabling a client disconnects it.
 */
export class DynsecAdmin {
  private client?: MqttClient;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly opts: { url: string; username: string; password: string; timeoutMs?: number },
  ) {}

  private connecting?: Promise<void>;

  /** Connects once; later calls wait for the same connection. */
  connect(): Promise<void> {
    return (this.connecting ??= this.open());
  }

  private async open(): Promise<void> {
    const client = mqtt.connect(this.opts.url, {
      username: this.opts.username,
      password: this.opts.password,
      clientId: `citybase-dynsec-${randomUUID()}`,
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
      resubscribe: false,
    });
    this.client = client;
    client.on('message', (topic, payload) => {
      if (topic !== RESPONSE) return;
      let body: { responses?: DynsecResponse[] };
      try {
        body = JSON.parse(payload.toString('utf8')) as { responses?: DynsecResponse[] };
      } catch {
        return;
      }
      const byId = new Map<string, DynsecResponse[]>();
      for (const r of body.responses ?? []) {
        if (!r.correlationData) continue;
        const id = r.correlationData.split(':')[0] as string;
        byId.set(id, [...(byId.get(id) ?? []), r]);
      }
      for (const [id, responses] of byId) {
        const p = this.pending.get(id);
        if (!p) continue;
        this.pending.delete(id);
        clearTimeout(p.timer);
        p.resolve(responses);
      }
    });
    // every (re)connect starts a clean session: subscribe to the answers again
    client.on('connect', () => {
      client.subscribe(RESPONSE, { qos: 1 }, () => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        client.removeListener('connect', onConnect);
        void client.endAsync(true);
        reject(new Error(`dynamic-security admin cannot connect to ${this.opts.url}: ${err.message}`));
      };
      const onConnect = () => {
        client.removeListener('error', onError);
        client.subscribe(RESPONSE, { qos: 1 }, (err) => (err ? onError(err) : resolve()));
      };
      client.once('connect', onConnect);
      client.once('error', onError);
    });
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  async end(): Promise<void> {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error('dynamic-security admin stopped'));
    }
    this.pending.clear();
    await this.client?.endAsync();
  }

  /**
   * Runs commands in one request and answers their responses in order. A response with an error
   * rejects with DynsecError, unless `tolerate` lists that error (e.g. "Client not found" when
   * deleting something already gone).
   */
  async run(commands: DynsecCommand[], tolerate: (cmd: string, error: string) => boolean = () => false) {
    const client = this.client;
    if (!client) throw new Error('dynamic-security admin not connected');
    const id = randomUUID();
    const sent = commands.map((c, i) => ({ ...c, correlationData: `${id}:${i}` }));
    const responses = await new Promise<DynsecResponse[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`dynamic-security did not answer ${commands.map((c) => c.command).join(', ')}`));
      }, this.opts.timeoutMs ?? 10_000);
      this.pending.set(id, { resolve, reject, timer });
      client.publish(CONTROL, JSON.stringify({ commands: sent }), { qos: 1 }, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(err);
      });
    });
    for (const r of responses) {
      if (r.error && !tolerate(r.command, r.error)) throw new DynsecError(r.command, r.error);
    }
    return responses;
  }

  /**
   * Makes a client with its own role holding `acls`, or brings an existing one to that state
   * (password, ACL, enabled): provisioning is repeatable. Only what differs is written: the broker
   * disconnects every connection of a user whose password is set, even to the same one, so a
   * second iot replica starting (the same service user, its password derived from the admin's)
   * must not set it again. A client without a fixed client id has its password tried first (a
   * throwaway connection, `passwordWorks`); one with a fixed client id (a device) gets it set, as a
   * connection with that id would take over the device's.
   */
  async upsertClient(opts: {
    username: string;
    password: string;
    clientId?: string;
    role: string;
    acls: DynsecAcl[];
  }): Promise<void> {
    const exists = (_cmd: string, error: string) => /already exists/i.test(error);
    await this.run(
      [
        { command: 'createRole', rolename: opts.role },
        {
          command: 'createClient',
          username: opts.username,
          password: opts.password,
          clientid: opts.clientId,
          roles: [{ rolename: opts.role }],
        },
      ],
      exists,
    );
    // the role's ACL exactly as asked: remove what is there and not asked, add what is missing
    const [role] = await this.run([{ command: 'getRole', rolename: opts.role }]);
    const current = (role?.data as { role?: { acls?: DynsecAcl[] } })?.role?.acls ?? [];
    const same = (a: DynsecAcl, b: DynsecAcl) =>
      a.acltype === b.acltype &&
      a.topic === b.topic &&
      a.allow === b.allow &&
      (a.priority ?? 0) === (b.priority ?? 0);
    const removals = current
      .filter((a) => !opts.acls.some((w) => same(a, w)))
      .map((a) => ({ command: 'removeRoleACL', rolename: opts.role, acltype: a.acltype, topic: a.topic }));
    // an entry of the same type and topic but another allow/priority is removed first, then added
    const additions = opts.acls
      .filter((w) => !current.some((a) => same(a, w)))
      .map((a) => ({ command: 'addRoleACL', rolename: opts.role, ...a }));
    const client = await this.getClient(opts.username);
    const hasRole = client?.roles?.some((r) => r.rolename === opts.role) ?? false;
    const setPassword =
      opts.clientId !== undefined || !(await this.passwordWorks(opts.username, opts.password));
    const commands: DynsecCommand[] = [
      ...removals,
      ...additions,
      ...(setPassword
        ? [{ command: 'setClientPassword', username: opts.username, password: opts.password }]
        : []),
      ...(opts.clientId && client?.clientid !== opts.clientId
        ? [{ command: 'setClientId', username: opts.username, clientid: opts.clientId }]
        : []),
      ...(hasRole ? [] : [{ command: 'addClientRole', username: opts.username, rolename: opts.role }]),
      ...(client?.disabled ? [{ command: 'enableClient', username: opts.username }] : []),
    ];
    if (commands.length > 0) await this.run(commands);
  }

  /**
   * Whether `username` logs in with `password` now: one throwaway connection with a client id of
   * its own (no session of anyone else is touched), ended at once.
   */
  async passwordWorks(username: string, password: string): Promise<boolean> {
    const probe = mqtt.connect(this.opts.url, {
      username,
      password,
      clientId: `citybase-probe-${randomUUID()}`,
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: this.opts.timeoutMs ?? 10_000,
    });
    try {
      return await new Promise<boolean>((resolve) => {
        probe.once('connect', () => resolve(true));
        probe.once('error', () => resolve(false));
        probe.once('close', () => resolve(false));
      });
    } finally {
      await probe.endAsync(true).catch(() => undefined);
    }
  }

  /** Deletes a client and its role; the client is disconnected at once. Repeatable. */
  async deleteClient(username: string, role: string): Promise<void> {
    await this.run(
      [
        { command: 'deleteClient', username },
        { command: 'deleteRole', rolename: role },
      ],
      (_cmd, error) => /not found/i.test(error),
    );
  }

  async getClient(
    username: string,
  ): Promise<{ disabled?: boolean; clientid?: string; roles?: { rolename: string }[] } | undefined> {
    const [r] = await this.run([{ command: 'getClient', username }], (_c, e) => /not found/i.test(e));
    if (!r || r.error) return undefined;
    return (r.data as { client?: { disabled?: boolean; clientid?: string; roles?: { rolename: string }[] } })
      .client;
  }
}
