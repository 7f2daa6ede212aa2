import mqtt, { IClientOptions, MqttClient } from 'mqtt';

/** What a device needs to connect: RegisterDevice's `credentials` (docs/iot.md "Topics"). */
export interface DeviceCredentials {
  mqttUrl: string;
  username: string;
  clientId: string;
  password: string;
  /** <root>/<project>/devices/<device_id> */
  topicPrefix: string;
}

export type Readings = Record<string, number>;

/** A command as iot sends it (the commands topic): its id, what to do, its deadline. */
export interface ReceivedCommand {
  topic: string;
  payload: Record<string, unknown>;
}

export interface SimDeviceOptions {
  /** Seconds between PINGREQs; the broker sends the last will after 1.5 x this without traffic. */
  keepaliveS?: number;
  /** MQTT 5 (default) or 3.1.1 (4). */
  protocolVersion?: 4 | 5;
  /** Reconnect by itself after a lost connection (default true; a refused connect stops it). */
  reconnect?: boolean;
  /** The first connection session number (default: now in ms); each connect takes the next. */
  session?: number;
}

let lastSession = 0;
/** Connection session numbers increase across the devices of this process and across restarts. */
function nextSession(from?: number): number {
  lastSession = Math.max(lastSession + 1, from ?? Date.now());
  return lastSession;
}

/**
 * One device speaking MQTT to the project's broker the way docs/iot.md "Topics" describes:
 *  - on each connect it starts a new session number, publishes {online: true, session} to its
 *    state topic and leaves a last will {online: false, session, reason: "last_will"} there;
 *  - telemetry, events and alarms are QoS 1 JSON messages with an id unique per device
 *    (<session>-<seq>) and the device's own clock `ts`; each call resolves at the broker's PUBACK;
 *  - it subscribes to its own commands topic and hands commands to `onCommand`.
 */
export class SimDevice {
  private client?: MqttClient;
  private seq = 0;
  session = 0;
  /** Messages the broker acknowledged (PUBACK), by channel. */
  readonly acked = { telemetry: 0, events: 0, alarms: 0, state: 0, 'commands/ack': 0 };
  private commandHandler?: (cmd: ReceivedCommand) => void;

  constructor(
    readonly credentials: DeviceCredentials,
    private readonly options: SimDeviceOptions = {},
  ) {}

  get deviceId(): string {
    return this.credentials.username;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  topic(channel: string): string {
    return `${this.credentials.topicPrefix}/${channel}`;
  }

  /** Connects (rejects when the broker refuses, e.g. a revoked device or a wrong password). */
  async connect(): Promise<void> {
    this.session = nextSession(this.options.session);
    const will = JSON.stringify({
      id: `${this.session}-will`,
      online: false,
      session: this.session,
      reason: 'last_will',
    });
    const opts: IClientOptions = {
      username: this.credentials.username,
      password: this.credentials.password,
      clientId: this.credentials.clientId,
      protocolVersion: this.options.protocolVersion ?? 5,
      clean: true,
      keepalive: this.options.keepaliveS ?? 30,
      reconnectPeriod: this.options.reconnect === false ? 0 : 500,
      connectTimeout: 10_000,
      will: { topic: this.topic('state'), payload: Buffer.from(will), qos: 1, retain: false },
      // mqtt.js logs every packet through `debug`, which builds its arguments even when off:
      // nothing to log unless DEBUG names something (then mqtt.js's own logger decides)
      ...(process.env.DEBUG ? {} : { log: () => undefined }),
    };
    const client = mqtt.connect(this.credentials.mqttUrl, opts);
    this.client = client;
    client.on('message', (topic, payload) => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
      } catch {
        return;
      }
      this.commandHandler?.({ topic, payload: body });
    });
    // after a reconnect: a new session, announced (the broker did not keep the subscription)
    client.on('connect', () => {
      if (this.seq > 0 || this.acked.state > 0) this.session = nextSession();
      void client.subscribeAsync(this.topic('commands'), { qos: 1 }).catch(() => undefined);
      void this.announce(true).catch(() => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      const onConnect = () => {
        client.removeListener('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        client.removeListener('connect', onConnect);
        void client.endAsync(true);
        reject(err);
      };
      client.once('connect', onConnect);
      client.once('error', onError);
    });
  }

  onCommand(handler: (cmd: ReceivedCommand) => void): void {
    this.commandHandler = handler;
  }

  /** A new message id of this device. */
  nextId(): string {
    this.seq += 1;
    return `${this.session}-${this.seq}`;
  }

  async telemetry(readings: Readings, opts: { id?: string; ts?: Date } = {}): Promise<string> {
    const id = opts.id ?? this.nextId();
    await this.publish('telemetry', { id, ts: (opts.ts ?? new Date()).toISOString(), readings });
    return id;
  }

  async event(type: string, data: Record<string, unknown> = {}, readings: Readings = {}): Promise<string> {
    const id = this.nextId();
    await this.publish('events', { id, ts: new Date().toISOString(), type, data, readings });
    return id;
  }

  /** A device's own alarm (e.g. a smoke detector's siren): active or ended. */
  async alarm(
    type: string,
    active: boolean,
    severity: 'INFO' | 'WARNING' | 'CRITICAL',
    value?: number,
  ): Promise<string> {
    const id = this.nextId();
    await this.publish('alarms', { id, ts: new Date().toISOString(), type, active, severity, value });
    return id;
  }

  /** Publishes {online, session} to the state topic (what connect and a clean stop do). */
  async announce(online: boolean, session = this.session): Promise<void> {
    await this.publish('state', {
      id: `${session}-${online ? 'up' : 'down'}`,
      online,
      session,
      ts: new Date().toISOString(),
    });
  }

  /** Publishes any JSON body on one of its channels (or another topic: tests of the ACL). */
  async publish(
    channel: keyof SimDevice['acked'] | string,
    body: unknown,
    topic = this.topic(channel),
  ): Promise<void> {
    const client = this.client;
    if (!client) throw new Error(`device ${this.deviceId} is not connected`);
    await client.publishAsync(topic, JSON.stringify(body), { qos: 1 });
    if (channel in this.acked) this.acked[channel as keyof SimDevice['acked']] += 1;
  }

  /** Says offline on its state topic, then disconnects cleanly (no last will). */
  async stop(): Promise<void> {
    if (this.client?.connected) await this.announce(false).catch(() => undefined);
    await this.client?.endAsync();
  }

  /** Drops the connection without DISCONNECT: the broker publishes the last will. */
  async crash(): Promise<void> {
    const stream = (this.client as unknown as { stream?: { destroy(): void } })?.stream;
    if (this.client) this.client.options.reconnectPeriod = 0;
    stream?.destroy();
    await this.client?.endAsync(true);
  }

  /** Resolves when the connection is closed by the broker (e.g. the device was revoked). */
  closed(): Promise<void> {
    const client = this.client;
    if (!client || (!client.connected && client.disconnected)) return Promise.resolve();
    return new Promise((resolve) => client.once('close', () => resolve()));
  }
}
