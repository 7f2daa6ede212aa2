import type { KeyObject } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import {
  InfrastructureError,
  type JwksDocument,
  LOGGER,
  type Logger,
  PG_POOL,
  type Pool,
  SERVICE_CONFIG,
  toJwks,
  withTransaction,
} from '@citybase/platform';
import type { IdentityConfig } from '../../config';
import { SIGNING_KEY_WRAP } from '../clients.di';
import type { SigningKeyWrap } from './key-wrap';
import {
  KEY_RECHECK_MS,
  publishedKeys,
  retiredKeysCutoff,
  type StoredSigningKey,
} from './signing-keys.domain';
import { currentKid, ensureSigningKeys, loadKeySet } from './signing-keys.store';

interface LoadedKeys {
  currentKid: string;
  /** Decrypted in memory only; never logged, never leaves the process. */
  privateKey: KeyObject;
  /** Every key that was publishable when loaded; publishedKeys() prunes by the clock on each use. */
  keys: StoredSigningKey[];
}

/**
 * This process's view of the signing keys: the current private key (to sign tokens) and the public
 * keys to publish. Another identity replica may rotate at any time; the ring checks the current kid
 * in the database at most every KEY_RECHECK_MS and reloads the whole set when it changed.
 */
@Injectable()
export class KeyRing implements OnModuleInit {
  private loaded: LoadedKeys | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<LoadedKeys> | undefined;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(SIGNING_KEY_WRAP) private readonly wrap: SigningKeyWrap,
    @Inject(SERVICE_CONFIG) private readonly config: IdentityConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** First start of a city: creates the current and next keys (concurrency-safe), then loads them. */
  async onModuleInit(): Promise<void> {
    await withTransaction(this.pool, (client) => ensureSigningKeys(client, this.wrap));
    await this.reload();
  }

  /** The key new tokens are signed with. */
  async signingKey(): Promise<{ kid: string; privateKey: KeyObject }> {
    const { currentKid: kid, privateKey } = await this.fresh();
    return { kid, privateKey };
  }

  /** The keys published now: current, next, then retired keys whose tokens may still be valid. */
  async published(now: Date = new Date()): Promise<StoredSigningKey[]> {
    return publishedKeys((await this.fresh()).keys, now, this.config.TOKEN_TTL_SECONDS);
  }

  async jwks(now: Date = new Date()): Promise<JwksDocument> {
    return toJwks((await this.published(now)).map((k) => k.publicJwk));
  }

  /** Reloads at once, e.g. right after this process rotated the keys. */
  async reload(): Promise<void> {
    this.loaded = await this.load();
    this.checkedAt = Date.now();
  }

  private fresh(): Promise<LoadedKeys> {
    if (this.loaded && Date.now() - this.checkedAt < KEY_RECHECK_MS) return Promise.resolve(this.loaded);
    this.inflight ??= this.check().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async check(): Promise<LoadedKeys> {
    try {
      const kid = await currentKid(this.pool);
      if (!this.loaded || kid !== this.loaded.currentKid) {
        if (this.loaded)
          this.logger.info(
            { kid, previous_kid: this.loaded.currentKid },
            'signing keys rotated elsewhere; reloading',
          );
        this.loaded = await this.load();
      }
      this.checkedAt = Date.now();
      return this.loaded;
    } catch (err) {
      // Keep signing and publishing with what we have; the database will be asked again next time.
      if (this.loaded) {
        this.logger.warn({ err: (err as Error).message }, 'signing key check failed; using the loaded keys');
        return this.loaded;
      }
      throw new InfrastructureError('unavailable', 'signing keys cannot be loaded', err);
    }
  }

  private async load(): Promise<LoadedKeys> {
    const { keys, current } = await loadKeySet(
      this.pool,
      retiredKeysCutoff(new Date(), this.config.TOKEN_TTL_SECONDS),
    );
    if (!current) throw new Error('no current signing key in the database');
    return {
      currentKid: current.kid,
      privateKey: this.wrap.unwrap(current.privateKeyEnc, current.kid),
      keys,
    };
  }
}
