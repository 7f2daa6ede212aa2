import { createHmac } from 'crypto';
import { hostname } from 'os';
import {
  Global,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { LOGGER, Logger, Readiness, SERVICE_CONFIG } from '@citybase/platform';
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

/**
 * iot's one connection to the project's broker with its own credentials (docs/iot.md "Broker"):
 * publish at QoS 1, shared subscriptions with PUBACK after handling, resubscribed after the broker
 * restarts. Its session is kept by the broker (IOT_MQTT_SESSION_EXPIRY_S) under a client id stable
 * across restarts of this instance, so messages not yet acked wait for it. Features subscribe in
 * their onModuleInit (before the connection opens at bootstrap) or later.
 */
@Injectable()
export class IotMqtt implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  readonly clientId: string;
  private readonly connection: MqttConnection;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: IotConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly dynsec: IotDynsec,
    private readonly topics: IotTopics,
    readiness: Readiness,
  ) {
    this.clientId = config.IOT_MQTT_CLIENT_ID || `iot-${hostname()}-${config.HTTP_PORT}`;
    this.connection = new MqttConnection({
      url: config.IOT_MQTT_URL,
      username: config.IOT_MQTT_SERVICE_USERNAME,
      password: servicePassword(config.IOT_MQTT_ADMIN_PASSWORD, config.IOT_MQTT_SERVICE_USERNAME),
      clientId: this.clientId,
      clean: false,
      sessionExpiryS: config.IOT_MQTT_SESSION_EXPIRY_S,
      onEvent: (event, detail) => {
        if (event === 'error') this.logger.warn({ detail }, 'mqtt connection error');
        else this.logger.info({ event, detail, client_id: this.clientId }, `mqtt ${event}`);
      },
    });
    readiness.add('mqtt', async () => {
      if (!this.connection.connected) throw new Error(`not connected to ${config.IOT_MQTT_URL}`);
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
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.end();
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  get pendingAcks(): number {
    return this.connection.pendingAcks;
  }

  publish(topic: string, payload: string | Buffer, opts?: { qos?: 0 | 1; retain?: boolean }): Promise<void> {
    return this.connection.publish(topic, payload, opts);
  }

  /**
   * Subscribes to `filter`; with `shared`, through $share/<IOT_MQTT_SHARE_GROUP>/ so the instances
   * split the messages; with `ackAfterHandled`, the PUBACK waits for the handler.
   */
  subscribe(
    filter: string,
    handler: MessageHandler,
    opts: { shared?: boolean; ackAfterHandled?: boolean } = {},
  ): Promise<void> {
    return this.connection.subscribe(filter, handler, {
      shareGroup: opts.shared ? this.config.IOT_MQTT_SHARE_GROUP : undefined,
      ackAfterHandled: opts.ackAfterHandled,
    });
  }
}

/** The broker for every room: topics, the admin API and iot's own connection. */
@Global()
@Module({
  providers: [IotTopics, IotDynsec, IotMqtt],
  exports: [IotTopics, IotDynsec, IotMqtt],
})
export class MqttModule {}
