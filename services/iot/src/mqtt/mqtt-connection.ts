import { randomUUID } from 'crypto';
import mqtt, { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { sharedSubscription } from './topics';

/**
 * Handles one received message. For an acked subscription the broker gets the PUBACK only once
 * the returned promise resolves; a rejected one is never acked, so the broker sends the message
 * again (to this instance after a reconnect, or to another member of the share group).
 */
export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => Promise<void> | void;

interface Subscription {
  filter: string;
  /** The filter's levels that topics are matched against (filterLevels), split once. */
  levels: readonly string[];
  qos: 0 | 1;
  handler: MessageHandler;
  /** PUBACK only after the handler's promise resolved (docs/iot.md "Ingest"). */
  ackAfterHandled: boolean;
}

export interface MqttConnectionOptions {
  url: string;
  username: string;
  password: string;
  clientId: string;
  /** false: the broker keeps the session (subscriptions, unacked messages) for sessionExpiryS. */
  clean: boolean;
  sessionExpiryS: number;
  /** MQTT keepalive in seconds (default 30); mqtt.js takes the connection for dead after 1.5 x this. */
  keepaliveS?: number;
  /**
   * MQTT 5 Receive Maximum: unacknowledged messages the broker may send ahead (default 65,535).
   * The connection also holds itself to it: with that many PUBACKs held, it reads no further
   * until one is released (Mosquitto 2.0.11 sends past the window after a PUBACK, #2301).
   */
  receiveMaximum?: number;
  onEvent?: (event: 'connect' | 'reconnect' | 'offline' | 'error', detail?: string) => void;
}

/**
 * One mqtt.js connection (MQTT 5) to the project's broker with:
 *  - publish at QoS 1 (resolves when the broker acked it);
 *  - subscriptions, shared ones ($share/<group>/...) included, made again after every connect the
 *    broker did not keep the session for (a restarted broker with clean sessions: mqtt.js #895);
 *  - deferred acknowledgements: a QoS 1 message of an acked subscription gets its PUBACK only after
 *    its handler resolved, while the connection goes on reading the next messages.
 *
 * mqtt.js reads the socket one packet at a time and sends a PUBACK when `handleMessage` calls back;
 * holding that callback would stop the connection (one message per Kafka round trip). So the
 * PUBACK packet itself is held: `_sendPacket` is wrapped to let the stream go on at once and write
 * the PUBACK when the handler's promise resolves, on the same connection only (a PUBACK for a
 * previous connection would acknowledge another message that reuses the id).
 *
 * The PUBACKs released in one turn of the event loop (a Kafka batch's messages resolve together)
 * are written as one buffer: mqtt.js writes a PUBACK in three or four small writes, and under
 * bench iot's load (7,000 msgs/s) the socket held 1.4 million of those pending writes (a heap
 * snapshot: 65 MB of write requests, a third of the live heap).
 */
export class MqttConnection {
  private client?: MqttClient;
  private readonly subscriptions: Subscription[] = [];
  /** Deferred acks by message id of the current connection. */
  private readonly awaiting = new Map<number, Promise<boolean>>();
  private generation = 0;
  private ending = false;
  private handingBack = false;
  /** Messages of acked subscriptions whose handler failed (left unacknowledged). */
  private refused = 0;
  /** Message ids whose PUBACK is written at the next setImmediate, and their connection. */
  private pubacks: number[] = [];
  private pubacksGeneration = 0;
  /** mqtt.js's read loop, held while receiveMaximum PUBACKs are held: resumed as they go out. */
  private stalled: (() => void)[] = [];
  /** Entries of `awaiting` without a handler (NEVER) on this connection. */
  private unhandled = 0;

  constructor(private readonly opts: MqttConnectionOptions) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Messages whose handler is still running (received, not yet acked). */
  get pendingAcks(): number {
    return this.awaiting.size;
  }

  async connect(): Promise<void> {
    const options: IClientOptions = {
      username: this.opts.username,
      password: this.opts.password,
      clientId: this.opts.clientId,
      protocolVersion: 5,
      clean: this.opts.clean,
      properties: {
        ...(this.opts.clean ? {} : { sessionExpiryInterval: this.opts.sessionExpiryS }),
        ...(this.opts.receiveMaximum === undefined ? {} : { receiveMaximum: this.opts.receiveMaximum }),
      },
      reconnectPeriod: 500,
      connectTimeout: 10_000,
      keepalive: this.opts.keepaliveS ?? 30,
      // we resubscribe ourselves on every connect without a session (below)
      resubscribe: false,
      customHandleAcks: (_topic, _message, _packet, done) => done(0),
      // mqtt.js logs every packet through `debug`, which builds its arguments even when off:
      // nothing to log unless DEBUG names something (then mqtt.js's own logger decides)
      ...(process.env.DEBUG ? {} : { log: () => undefined }),
    };
    const client = mqtt.connect(this.opts.url, options);
    this.client = client;
    this.wrapPuback(client);
    client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet));
    // Incoming PUBLISHes prove the connection alive. mqtt.js counts only acks and PINGRESP: on a
    // connection that mostly receives, the PINGRESP waits behind the PUBLISHes the broker queued on
    // the socket, so under load mqtt.js took the connection for dead every 1.5 x keepalive, dropped
    // the held PUBACKs (the broker sends those messages again) and reconnected (bench iot: 2,172 >
    // 3,921 msgs/s with this). When the broker stops sending, the keepalive runs as before.
    let lastLiveness = 0;
    client.on('packetreceive', (packet) => {
      if (packet.cmd !== 'publish') return;
      const now = Date.now();
      if (now - lastLiveness < 1_000) return;
      lastLiveness = now;
      client.reschedulePing(true);
    });
    client.on('connect', (connack) => {
      this.generation += 1;
      this.awaiting.clear();
      this.unhandled = 0;
      this.stalled = []; // read loops of the previous connection's stream
      this.opts.onEvent?.('connect', connack.sessionPresent ? 'session present' : 'new session');
      if ((!connack.sessionPresent || this.opts.clean) && !this.handingBack) void this.subscribeAll();
    });
    // a closed connection's held PUBACKs are void: the broker sends those messages again
    client.on('close', () => {
      this.generation += 1;
      this.awaiting.clear();
      this.unhandled = 0;
      this.stalled = [];
    });
    client.on('reconnect', () => this.opts.onEvent?.('reconnect'));
    client.on('offline', () => this.opts.onEvent?.('offline'));
    client.on('error', (err) => this.opts.onEvent?.('error', err.message));
    await new Promise<void>((resolve, reject) => {
      const onConnect = () => {
        client.removeListener('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        client.removeListener('connect', onConnect);
        this.ending = true;
        void client.endAsync(true);
        reject(new Error(`cannot connect to ${this.opts.url} as ${this.opts.username}: ${err.message}`));
      };
      client.once('connect', onConnect);
      client.once('error', onError);
    });
  }

  async subscribe(
    filter: string,
    handler: MessageHandler,
    opts: { shareGroup?: string; ackAfterHandled?: boolean; qos?: 0 | 1 } = {},
  ): Promise<void> {
    const subscribed = opts.shareGroup ? sharedSubscription(opts.shareGroup, filter) : filter;
    const sub: Subscription = {
      filter: subscribed,
      levels: filterLevels(subscribed),
      qos: opts.qos ?? 1,
      handler,
      ackAfterHandled: opts.ackAfterHandled ?? false,
    };
    this.subscriptions.push(sub);
    if (this.client?.connected) await this.subscribeOne(sub);
  }

  /** Publishes at QoS 1 (or 0); resolves once the broker acknowledged it. */
  async publish(
    topic: string,
    payload: string | Buffer,
    opts: { qos?: 0 | 1; retain?: boolean } = {},
  ): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('MQTT connection not started');
    await client.publishAsync(topic, payload, { qos: opts.qos ?? 1, retain: opts.retain ?? false });
  }

  async end(): Promise<void> {
    this.ending = true;
    await this.client?.endAsync();
  }

  /**
   * Ends this connection's session at the broker without leaving a message behind: the broker
   * gives a shared subscription's messages to the sessions of disconnected members too (Mosquitto
   * #2662), so a session nobody comes back for holds its share until it expires and then drops it.
   * Unsubscribes everything (no new message is routed here), publishes a marker to a topic of this
   * client alone and waits for it (the broker sends a client's messages in order: all queued before
   * it have arrived), waits until every handler resolved and its PUBACK was written, then
   * disconnects with session expiry 0. Answers false, leaving the session to the broker as a plain
   * end() does, when a step does not finish within `timeoutMs`.
   */
  async handBack(markerTopic: string, timeoutMs: number): Promise<boolean> {
    const client = this.client;
    if (!client?.connected) {
      await this.end();
      return false;
    }
    const deadline = Date.now() + timeoutMs;
    const marker = randomUUID();
    let markerSeen!: () => void;
    const seen = new Promise<void>((resolve) => (markerSeen = resolve));
    // the old subscriptions stay in the list: messages routed here before the unsubscribe still
    // find their handlers; a reconnect meanwhile subscribes nothing again (and the marker is lost)
    this.handingBack = true;
    const filters = this.subscriptions.map((s) => s.filter);
    const refusedBefore = this.refused;
    const generation = this.generation;
    this.subscriptions.unshift({
      filter: markerTopic,
      levels: filterLevels(markerTopic),
      qos: 1,
      handler: (_topic, payload) => {
        if (payload.toString() === marker) markerSeen();
      },
      ackAfterHandled: false,
    });
    try {
      if (filters.length > 0) await withDeadline(client.unsubscribeAsync(filters), deadline);
      await withDeadline(client.subscribeAsync(markerTopic, { qos: 1 }), deadline);
      await withDeadline(client.publishAsync(markerTopic, marker, { qos: 1 }), deadline);
      await withDeadline(seen, deadline);
      while (this.awaiting.size > 0) {
        if (Date.now() > deadline) throw new Error(`${this.awaiting.size} messages still being handled`);
        await new Promise((r) => setTimeout(r, 10));
      }
      // a message whose handler failed was not acknowledged: the session must keep it
      if (this.refused !== refusedBefore) throw new Error('a message was not handled');
      // a connection lost meanwhile dropped its held PUBACKs: the session holds those messages again
      if (this.generation !== generation || !client.connected) throw new Error('connection lost');
      this.ending = true;
      await withDeadline(client.endAsync(false, { properties: { sessionExpiryInterval: 0 } }), deadline);
      return true;
    } catch {
      await this.end().catch(() => undefined);
      return false;
    }
  }

  /** Drops the connection without DISCONNECT (tests: what a crash looks like to the broker). */
  async destroy(): Promise<void> {
    this.ending = true;
    await this.client?.endAsync(true);
  }

  private async subscribeAll(): Promise<void> {
    for (const sub of this.subscriptions) {
      try {
        await this.subscribeOne(sub);
      } catch (err) {
        this.opts.onEvent?.('error', `subscribe ${sub.filter}: ${(err as Error).message}`);
      }
    }
  }

  private async subscribeOne(sub: Subscription): Promise<void> {
    const granted = await this.client!.subscribeAsync(sub.filter, { qos: sub.qos });
    const refused = granted.find((g) => g.qos > 2);
    if (refused) throw new Error(`broker refused the subscription to ${sub.filter} (reason ${refused.qos})`);
  }

  private match(topic: string): Subscription | undefined {
    // once per message: the topic split once, the filters split when subscribed
    const levels = topic.split('/');
    return this.subscriptions.find((s) => levelsMatch(s.levels, levels));
  }

  private dispatch(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const sub = this.match(topic);
    if (!sub) {
      // no handler (yet): never acknowledged, so the broker sends it again after a reconnect
      if (
        packet.qos === 1 &&
        packet.messageId !== undefined &&
        this.awaiting.get(packet.messageId) !== NEVER
      ) {
        this.awaiting.set(packet.messageId, NEVER);
        this.unhandled += 1;
      }
      this.opts.onEvent?.('error', `no handler for ${topic}: left unacknowledged`);
      return;
    }
    const handled = Promise.resolve()
      .then(() => sub.handler(topic, payload, packet))
      .then(
        () => true,
        () => false,
      );
    if (sub.ackAfterHandled && packet.qos === 1 && packet.messageId !== undefined) {
      this.awaiting.set(packet.messageId, handled);
    }
  }

  private wrapPuback(client: MqttClient): void {
    const internal = client as unknown as {
      _sendPacket: (
        packet: { cmd: string; messageId?: number; reasonCode?: number; properties?: object },
        cb?: (err?: Error) => void,
        ...rest: unknown[]
      ) => void;
    };
    const send = internal._sendPacket.bind(client);
    internal._sendPacket = (packet, cb, ...rest) => {
      const handled =
        packet.cmd === 'puback' && packet.messageId !== undefined && this.awaiting.get(packet.messageId);
      if (!handled) return send(packet, cb, ...rest);
      const generation = this.generation;
      const messageId = packet.messageId as number;
      // mqtt.js reads the next packet when this calls back: not while the window is full
      if (cb && this.windowFull()) this.stalled.push(cb);
      else cb?.();
      void handled.then((ok) => {
        // never through mqtt.js's offline queue: after a reconnect the id names another message
        if (this.generation !== generation || this.ending || !client.connected) return;
        if (this.awaiting.get(messageId) === handled) this.awaiting.delete(messageId);
        while (this.stalled.length > 0 && !this.windowFull()) this.stalled.shift()!();
        // not handled: no PUBACK, the broker sends it again after the next connect
        if (!ok) this.refused += 1;
        else if (isPlainPuback(packet)) this.queuePuback(client, messageId);
        else send(packet, undefined, ...rest);
      });
    };
  }

  /**
   * Receive Maximum messages are being handled. Those without a handler (left unacknowledged until
   * the next connect) do not count: they would stop the connection for good.
   */
  private windowFull(): boolean {
    return this.awaiting.size - this.unhandled >= (this.opts.receiveMaximum ?? Infinity);
  }

  private queuePuback(client: MqttClient, messageId: number): void {
    if (this.pubacks.length === 0) {
      this.pubacksGeneration = this.generation;
      setImmediate(() => this.writePubacks(client));
    }
    this.pubacks.push(messageId);
  }

  /** The queued PUBACKs in one write, on the connection they belong to only. */
  private writePubacks(client: MqttClient): void {
    const ids = this.pubacks;
    this.pubacks = [];
    if (this.pubacksGeneration !== this.generation || this.ending || !client.connected) return;
    client.stream.write(pubackBytes(ids));
  }
}

const NEVER = new Promise<boolean>(() => undefined);

/** A success PUBACK without properties: the four bytes of MQTT 3.1.1 and 5 alike (MQTT 5 3.4.2.1). */
function isPlainPuback(packet: { reasonCode?: number; properties?: object }): boolean {
  return (packet.reasonCode ?? 0) === 0 && packet.properties === undefined;
}

/** PUBACK packets for the message ids, back to back: 0x40, remaining length 2, the id. */
export function pubackBytes(messageIds: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(4 * messageIds.length);
  messageIds.forEach((id, i) => {
    buf[4 * i] = 0x40;
    buf[4 * i + 1] = 2;
    buf.writeUInt16BE(id, 4 * i + 2);
  });
  return buf;
}

function withDeadline<T>(p: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A subscription filter's levels as topics are matched against them: without `$share/<group>/`. */
export function filterLevels(filter: string): string[] {
  const levels = filter.split('/');
  return levels[0] === '$share' ? levels.slice(2) : levels;
}

/** MQTT topic filter matching (+ one level, # the rest) on the filter's and the topic's levels. */
export function levelsMatch(f: readonly string[], t: readonly string[]): boolean {
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
