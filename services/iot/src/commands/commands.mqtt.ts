import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { Logger, LOGGER } from '@citybase/platform';
import { IotMqtt, IotTopics } from '../mqtt';
import type { CommandPayload } from './commands.domain';
import { CommandsService } from './commands.service';
import { CommandTransport } from './commands.transport';

/** A publish the broker has not acknowledged by then is left to the commands job. */
const PUBLISH_TIMEOUT_MS = 5_000;

/**
 * Commands over the project's broker through iot's one MQTT connection (the mqtt module): QoS 1
 * to <root>/<project>/devices/<device>/commands. Whatever the connection delivers late, the device
 * refuses by the deadline inside the payload.
 */
@Injectable()
export class MqttCommandTransport extends CommandTransport {
  constructor(
    private readonly mqtt: IotMqtt,
    private readonly topics: IotTopics,
  ) {
    super();
  }

  async publish(projectId: string, deviceId: string, payload: CommandPayload): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.mqtt.publish(this.topics.device(projectId, deviceId, 'commands'), JSON.stringify(payload), {
          qos: 1,
        }),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('broker did not acknowledge the command in time')),
            PUBLISH_TIMEOUT_MS,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async onReports(
    handler: (projectId: string, deviceId: string, body: unknown) => Promise<void>,
  ): Promise<void> {
    // every instance gets a share of the reports; a report is acked once applied (or unreadable)
    await this.mqtt.subscribe(
      this.topics.everyDevice('commands/ack'),
      async (topic, payload) => {
        const parts = this.topics.parse(topic);
        if (!parts) return;
        let body: unknown;
        try {
          body = JSON.parse(payload.toString('utf8'));
        } catch {
          return;
        }
        await handler(parts.projectId, parts.deviceId, body);
      },
      { shared: true, ackAfterHandled: true },
    );
  }
}

/** Subscribes CommandsService to the devices' reports at start-up. */
@Injectable()
export class CommandReports implements OnModuleInit {
  constructor(
    private readonly transport: CommandTransport,
    private readonly commands: CommandsService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.transport.onReports(async (projectId, deviceId, body) => {
      try {
        await this.commands.deviceReport(projectId, deviceId, body);
      } catch (err) {
        // an unknown command id: nothing to apply, acknowledged; anything else is retried by the broker
        if ((err as { code?: string }).code === 'COMMAND_NOT_FOUND') {
          this.logger.warn({ device_id: deviceId }, 'report for an unknown command dropped');
          return;
        }
        throw err;
      }
    });
  }
}

export const CommandTransportProvider = { provide: CommandTransport, useClass: MqttCommandTransport };
