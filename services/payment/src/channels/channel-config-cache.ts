import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Client } from 'pg';
import { Logger, LOGGER, SERVICE_CONFIG } from '@citybase/platform';
import type { PaymentConfig } from '../config';

/** Where every change to channels, project_channels and routing_rules is announced (migration 0006). */
export const CHANNEL_CONFIG_CHANNEL = 'citybase_payment_channels';

/** How the router looks the configuration up: through a ChannelConfigCache, or READ_THROUGH. */
export interface ChannelConfigLookups {
  get<T>(key: string, load: () => Promise<T>): Promise<T>;
  forget(): void;
}

/** Every lookup reads the database. */
export const READ_THROUGH: ChannelConfigLookups = {
  get: (_key, load) => load(),
  forget: () => undefined,
};

/**
 * What this replica knows of the channel configuration (catalog, project accounts with their
 * decrypted credentials, routing rules), so that a payment does not read it again. Dropped
 * entirely on any change: at once when the change went through this replica (`forget()` after its
 * commit), and on the NOTIFY its commit sends to every replica (a LISTEN connection of each). While
 * that connection is down (not yet up, lost, reconnecting) nothing is kept: every lookup reads the
 * database, so a change made meanwhile is never missed.
 */
@Injectable()
export class ChannelConfigCache implements ChannelConfigLookups, OnApplicationBootstrap, OnModuleDestroy {
  private entries = new Map<string, Promise<unknown>>();
  private listening = false;
  private client: Client | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: PaymentConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The value under `key`, loaded once until the next change (loaded every time while not listening). */
  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (!this.listening) return load();
    const cached = this.entries.get(key) as Promise<T> | undefined;
    if (cached) return cached;
    const loading = load();
    this.entries.set(key, loading);
    // a failed load is not kept; a load that started before a change is not in the new map
    loading.catch(() => {
      if (this.entries.get(key) === loading) this.entries.delete(key);
    });
    return loading;
  }

  /** Drops everything (a change was committed). */
  forget(): void {
    this.entries = new Map();
  }

  /** Whether lookups are served from memory now (the LISTEN connection is up). */
  get active(): boolean {
    return this.listening;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.listen();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.stopListening();
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({
      connectionString: this.config.DATABASE_URL,
      application_name: 'citybase-payment-channel-config',
    });
    const lost = (err?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      this.stopListening();
      void client.end().catch(() => undefined);
      if (this.stopped) return;
      this.logger.warn(
        { err: err?.message },
        'channel config listener lost; reading the database until it is back',
      );
      this.retry = setTimeout(() => void this.listen(), 1_000);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', () => this.forget());
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL_CONFIG_CHANNEL}`);
    } catch (err) {
      lost(err as Error);
      return;
    }
    if (this.client !== client) return;
    this.forget();
    this.listening = true;
  }

  private stopListening(): void {
    this.listening = false;
    this.forget();
  }
}
