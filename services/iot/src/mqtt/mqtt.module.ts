import { createHmac } from 'crypto';
import { hostname } from 'os';
import {
  BeforeApplicationShutdown,
  Global,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { LOGGER, Logger, PeriodicJob, PG_POOL, Pool, Readiness, SERVICE_CONFIG } from '@citybase/platform';
import type { IotConfig } from '../config';
import { DynsecAdmin } from './dynsec';
import { MessageHandler, MqttConnection } from './mqtt-connection';
import { serviceAcls, Topics } from './topics';

/** The role of iot's own broker client. */
export const SERVICE_ROLE = 'citybase-iot-service';

/** iot's own password: derived from the admin's, so every instance computes the same one. */
export function servicePassword(adminPassword: string, username: string): string {
  return createHmac('sha256', adminPassword).update(`citybase-iot-service:${username}`).digest('base64url');
}

/** The topic layout of this deployment (IOT_MQTT_TOPIC_ROOT). */
@Injectable()
export class IotTopics extends Topics {
  constructor(@Inject(SERVICE_CONFIG) config: IotConfig) {
    super(config.IOT_MQTT_TOPIC_ROOT);
  }
}

/** The dynamic-security admin connection (device provisioning, iot's own account). */
@Injectable()
export class IotDynsec extends DynsecAdmin implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(SERVICE_CONFIG) config: IotConfig) {
    super({
      url: config.IOT_MQTT_URL,
      username: config.IOT_MQTT_ADMIN_USERNAME,
      password: config.IOT_MQTT_ADMIN_PASSWORD,
    });
  }

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.end();
  }
}

type ConnectionKind = 'main' | 'urgent';

/**
 * iot's connections to the project's broker with its own credentials (docs/iot.md "Broker"):
 * publish at QoS 1, shared subscriptions with PUBACK after handling, resubscribed after the broker
 * restarts. Each connection's session is kept by the broker (IOT_MQTT_SESSION_EXPIRY_S) under a
 * client id stable across restarts of this instance, so messages not yet acked wait for it.
 * Features subscribe in their onModuleInit (before the connections open at bootstrap) or later.
 *
 * The broker routes a shared subscription's messages to the sessions of members that are gone too
 * (Mosquitto #2662), and drops them when such a session expires. So no session is left without an
 * owner: every instance keeps its client ids in mqtt_sessions with a heartbeat (MqttSessionsJob);
 * one that stops while another instance runs hands its sessions back (drained, then ended); one
 * that stops alone keeps them for its return and marks them left; and the sessions of an instance
 * that left or stopped beating (IOT_MQTT_SESSION_STALE_S) are taken over by another, drained
 * through the same handlers and ended (`takeOverSessions`).
 */
@Injectable()
export class IotMqtt
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  readonly clientId: string;
  private readonly connection: MqttConnection;
  /**
   * A second connection for urgent subscriptions (device alarms): the broker queues per client, so
   * a backlog of bulk telemetry on the first never delays them.
   */
  private readonly urgent: MqttConnection;
  private urgentUsed = false;
  /** Every subscription made, so a session taken over gets the same handlers. */
  private readonly subscriptions: {
    kind: ConnectionKind;
    filter: string;
    handler: MessageHandler;
    shareGroup?: string;
    ackAfterHandled?: boolean;
  }[] = [];

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: IotConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly dynsec: IotDynsec,
    private readonly topics: IotTopics,
    readiness: Readiness,
  ) {
    this.clientId = config.IOT_MQTT_CLIENT_ID || `iot-${hostname()}-${config.HTTP_PORT}`;
    this.connection = this.newConnection(this.clientId);
    this.urgent = this.newConnection(`${this.clientId}-urgent`);
    readiness.add('mqtt', async () => {
      if (!this.connection.connected || (this.urgentUsed && !this.urgent.connected))
        throw new Error(`not connected to ${config.IOT_MQTT_URL}`);
    });
  }

  private newConnection(clientId: string): MqttConnection {
    return new MqttConnection({
      url: this.config.IOT_MQTT_URL,
      username: this.config.IOT_MQTT_SERVICE_USERNAME,
      password: servicePassword(this.config.IOT_MQTT_ADMIN_PASSWORD, this.config.IOT_MQTT_SERVICE_USERNAME),
      clientId,
      clean: false,
      sessionExpiryS: this.config.IOT_MQTT_SESSION_EXPIRY_S,
      receiveMaximum: this.config.IOT_MQTT_RECEIVE_MAXIMUM,
      onEvent: (event, detail) => {
        if (event === 'error') this.logger.warn({ detail, client_id: clientId }, 'mqtt connection error');
        else this.logger.info({ event, detail, client_id: clientId }, `mqtt ${event}`);
      },
    });
  }

  /** Makes (or brings up to date) iot's own client and role. */
  async onModuleInit(): Promise<void> {
    await this.dynsec.onModuleInit();
    await this.dynsec.upsertClient({
      username: this.config.IOT_MQTT_SERVICE_USERNAME,
      password: servicePassword(this.config.IOT_MQTT_ADMIN_PASSWORD, this.config.IOT_MQTT_SERVICE_USERNAME),
      role: `${SERVICE_ROLE}-${this.topics.root}`,
      acls: serviceAcls(this.topics, this.config.IOT_MQTT_SHARE_GROUP),
    });
  }

  /**
   * Connects once every feature subscribed (their onModuleInit): the broker delivers the kept
   * session's messages at once, and each must find its handler.
   */
  async onApplicationBootstrap(): Promise<void> {
    await this.connection.connect();
    if (this.urgentUsed) await this.urgent.connect();
    await this.beat();
  }

  /**
   * Before the features stop (ingest still forwards to Kafka): with another instance running, this
   * one's sessions are handed back; alone, they are kept for its return and marked left, so an
   * instance that starts under another client id takes them over at once. Marked stopping before
   * the look at the others: of instances stopping together, the last to look keeps its sessions,
   * so the broker still queues the devices' messages for somebody.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const ids = this.ownSessions().map((o) => o.clientId);
    try {
      await this.pool.query(`UPDATE mqtt_sessions SET state = 'stopping' WHERE client_id = ANY($1)`, [ids]);
      const { rows } = await this.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM mqtt_sessions
          WHERE client_id <> ALL($1) AND state = 'running'
            AND heartbeat_at >= now() - make_interval(secs => $2)`,
        [ids, this.config.IOT_MQTT_SESSION_STALE_S],
      );
      const handedBack: string[] = [];
      if ((rows[0]?.n ?? 0) > 0) {
        for (const o of this.ownSessions()) {
          const c = o.kind === 'main' ? this.connection : this.urgent;
          if (
            await c.handBack(this.topics.handbackMarker(o.clientId), this.config.IOT_MQTT_HANDBACK_TIMEOUT_MS)
          )
            handedBack.push(o.clientId);
        }
      }
      await this.pool.query('DELETE FROM mqtt_sessions WHERE client_id = ANY($1)', [handedBack]);
      await this.pool.query(`UPDATE mqtt_sessions SET state = 'left' WHERE client_id = ANY($1)`, [
        ids.filter((id) => !handedBack.includes(id)),
      ]);
      this.logger.info(
        { handed_back: handedBack, kept: ids.length - handedBack.length },
        'mqtt sessions at shutdown',
      );
    } catch (err) {
      // the sessions stay with the broker: another instance takes them over once they go stale
      this.logger.warn({ err }, 'mqtt sessions not settled at shutdown');
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.end();
    if (this.urgentUsed) await this.urgent.end();
  }

  /** This instance's client ids and which connection each is. */
  private ownSessions(): { clientId: string; kind: ConnectionKind }[] {
    return [
      { clientId: this.clientId, kind: 'main' as const },
      ...(this.urgentUsed ? [{ clientId: `${this.clientId}-urgent`, kind: 'urgent' as const }] : []),
    ];
  }

  /** This instance's heartbeat in mqtt_sessions (its sessions running). */
  async beat(): Promise<void> {
    const own = this.ownSessions();
    await this.pool.query(
      `INSERT INTO mqtt_sessions (client_id, connection)
       SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (client_id) DO UPDATE
         SET connection = EXCLUDED.connection, heartbeat_at = now(), state = 'running'`,
      [own.map((o) => o.clientId), own.map((o) => o.kind)],
    );
  }

  /**
   * Takes over the sessions of instances that left or stopped beating: connects with each one's
   * client id and the same handlers (its queued messages go through them and are acked as usual),
   * then hands the session back. Answers the client ids ended; one that could not be drained keeps
   * its row (its heartbeat now: tried again once it is stale again).
   */
  async takeOverSessions(): Promise<string[]> {
    const { rows } = await this.pool.query<{ client_id: string; connection: ConnectionKind }>(
      `UPDATE mqtt_sessions SET heartbeat_at = now(), state = 'running'
        WHERE client_id IN (
          SELECT client_id FROM mqtt_sessions
           WHERE client_id <> ALL($1)
             AND (state = 'left' OR heartbeat_at < now() - make_interval(secs => $2))
           ORDER BY client_id LIMIT 10 FOR UPDATE SKIP LOCKED)
        RETURNING client_id, connection`,
      [this.ownSessions().map((o) => o.clientId), this.config.IOT_MQTT_SESSION_STALE_S],
    );
    const ended: string[] = [];
    for (const row of rows) {
      const c = this.newConnection(row.client_id);
      for (const s of this.subscriptions.filter((x) => x.kind === row.connection))
        await c.subscribe(s.filter, s.handler, {
          shareGroup: s.shareGroup,
          ackAfterHandled: s.ackAfterHandled,
        });
      try {
        await c.connect();
      } catch (err) {
        this.logger.warn({ err, client_id: row.client_id }, 'cannot take over an mqtt session');
        continue;
      }
      if (
        await c.handBack(this.topics.handbackMarker(row.client_id), this.config.IOT_MQTT_HANDBACK_TIMEOUT_MS)
      ) {
        await this.pool.query('DELETE FROM mqtt_sessions WHERE client_id = $1', [row.client_id]);
        ended.push(row.client_id);
        this.logger.info(
          { client_id: row.client_id },
          'took over and ended the mqtt session of an instance gone',
        );
      } else {
        this.logger.warn(
          { client_id: row.client_id },
          'an mqtt session taken over was not drained; left to the broker',
        );
      }
    }
    return ended;
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  get pendingAcks(): number {
    return this.connection.pendingAcks + this.urgent.pendingAcks;
  }

  publish(topic: string, payload: string | Buffer, opts?: { qos?: 0 | 1; retain?: boolean }): Promise<void> {
    return this.connection.publish(topic, payload, opts);
  }

  /**
   * Subscribes to `filter`; with `shared`, through $share/<IOT_MQTT_SHARE_GROUP>/ so the instances
   * split the messages; with `ackAfterHandled`, the PUBACK waits for the handler; with `urgent`, on
   * the second connection (subscribe urgently before bootstrap: it opens only if used).
   */
  subscribe(
    filter: string,
    handler: MessageHandler,
    opts: { shared?: boolean; ackAfterHandled?: boolean; urgent?: boolean } = {},
  ): Promise<void> {
    if (opts.urgent) this.urgentUsed = true;
    const sub = {
      kind: (opts.urgent ? 'urgent' : 'main') as ConnectionKind,
      filter,
      handler,
      shareGroup: opts.shared ? this.config.IOT_MQTT_SHARE_GROUP : undefined,
      ackAfterHandled: opts.ackAfterHandled,
    };
    this.subscriptions.push(sub);
    return (opts.urgent ? this.urgent : this.connection).subscribe(filter, handler, {
      shareGroup: sub.shareGroup,
      ackAfterHandled: sub.ackAfterHandled,
    });
  }
}

/**
 * The heartbeat of this instance's broker sessions and the take-over of those of instances gone
 * (IotMqtt), every IOT_MQTT_SESSIONS_JOB_INTERVAL_MS.
 */
@Injectable()
export class MqttSessionsJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: IotConfig,
    private readonly mqtt: IotMqtt,
  ) {
    super({
      name: 'iot mqtt sessions',
      intervalMs: config.IOT_MQTT_SESSIONS_JOB_INTERVAL_MS,
      logger,
      maxBackoffMs: 60_000,
    });
  }

  async runOnce(): Promise<void> {
    await this.mqtt.beat();
    await this.mqtt.takeOverSessions();
  }
}

/** The broker for every room: topics, the admin API and iot's own connection. */
@Global()
@Module({
  providers: [IotTopics, IotDynsec, IotMqtt, MqttSessionsJob],
  exports: [IotTopics, IotDynsec, IotMqtt],
})
export class MqttModule {}
