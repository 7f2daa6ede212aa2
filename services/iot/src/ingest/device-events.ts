import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import {
  CitybaseClaims,
  DomainError,
  LOGGER,
  Logger,
  METRICS_REGISTRY,
  SERVICE_CONFIG,
} from '@citybase/platform';
import type { IotConfig } from '../config';
import type { DeviceEntry } from '../devices/device-directory';

/** A device's business event from its `events` channel (docs/iot.md "Device events"). */
export interface DeviceEvent {
  device: DeviceEntry;
  /** The device's message id: with the device id, the event's idempotency key. */
  messageId: string;
  type: string;
  /** The device's clock, or undefined when it sent none. */
  ts: Date | undefined;
  data: Record<string, unknown>;
}

export type DeviceEventHandler = (e: DeviceEvent) => Promise<void>;

const RETRIES = 5;

/**
 * Routes devices' business events (a camera's plate read, a charger's session events) from ingest
 * to the room that owns them: parking and charging register the event types they apply. Ingest
 * acknowledges such a message to the broker only when both Kafka has it and its room applied it.
 * A device's events are applied one after the other in the order this instance received them (a
 * charger's sequence numbers rely on it). A refusal by the room's rules (DomainError) is final:
 * logged, counted and acknowledged (sending it again would not help); anything else (the database
 * away) is tried again a few times, then left unacknowledged so the broker sends it again.
 */
@Injectable()
export class DeviceEventRoutes {
  private readonly handlers = new Map<string, DeviceEventHandler>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly refused: Counter<'type' | 'code'>;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: IotConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.refused = new Counter({
      name: 'iot_device_events_refused_total',
      help: "Devices' business events refused by their room's rules (acknowledged, not applied)",
      labelNames: ['type', 'code'],
      registers: [registry],
    });
  }

  register(types: readonly string[], handler: DeviceEventHandler): void {
    for (const t of types) {
      if (this.handlers.has(t)) throw new Error(`device event ${t} has a handler already`);
      this.handlers.set(t, handler);
    }
  }

  handles(type: string): boolean {
    return this.handlers.has(type);
  }

  /** Applies the event after the device's earlier ones; resolves when it may be acknowledged. */
  apply(e: DeviceEvent): Promise<void> {
    const id = e.device.deviceId;
    const previous = this.chains.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.run(e));
    this.chains.set(id, next);
    void next
      .catch(() => undefined)
      .then(() => {
        if (this.chains.get(id) === next) this.chains.delete(id);
      });
    return next;
  }

  /**
   * What a device's event acts as when a room runs it through its use cases: the device itself,
   * confined to its operator and project (the broker authenticated it; its ACL names its topics).
   */
  claimsOf(device: DeviceEntry): CitybaseClaims {
    const now = Math.floor(Date.now() / 1000);
    return {
      sub: `device:${device.deviceId}`,
      scope: 'iot:device',
      city: this.config.CITY_ID,
      tenancy: { operators: [device.operatorId], projects: [device.projectId] },
      iat: now,
      exp: now + 60,
      jti: `device:${device.deviceId}`,
    };
  }

  private async run(e: DeviceEvent): Promise<void> {
    const handler = this.handlers.get(e.type);
    if (!handler) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await handler(e);
        return;
      } catch (err) {
        if (err instanceof DomainError) {
          this.refused.inc({ type: e.type, code: err.code });
          this.logger.warn(
            {
              device_id: e.device.deviceId,
              message_id: e.messageId,
              type: e.type,
              code: err.code,
              err: err.message,
            },
            'device event refused',
          );
          return;
        }
        if (attempt >= RETRIES) throw err;
        this.logger.warn(
          { err, attempt, device_id: e.device.deviceId, type: e.type },
          'device event failed; again',
        );
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }
}
