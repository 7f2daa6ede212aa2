import { Inject, Injectable } from '@nestjs/common';
import {
  type CitybaseClaims,
  DomainError,
  Mutations,
  PG_POOL,
  type Pool,
  tenancyFilter,
  toTimestamp,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import { SIGNING_KEY_WRAP } from '../clients.di';
import { KeyRing } from './key-ring';
import type { SigningKeyWrap } from './key-wrap';
import type { StoredSigningKey } from './signing-keys.domain';
import {
  ensureSigningKeys,
  findKey,
  findKeysInState,
  findRotation,
  insertNewKey,
  insertRotation,
  retireCurrentAndPromoteNext,
} from './signing-keys.store';

/** Partition key of SigningKeyRotated: all rotations of a city in one ordered stream. */
const SIGNING_KEYS_EVENT_KEY = 'signing-keys';

@Injectable()
export class SigningKeysService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
    @Inject(SIGNING_KEY_WRAP) private readonly wrap: SigningKeyWrap,
    private readonly ring: KeyRing,
  ) {}

  /**
   * current -> retired, next -> current (already in every verifier's JWKS), and a new next key is
   * published. Tokens signed by the retired key keep verifying until they expire. Only an
   * unrestricted city admin may rotate. Idempotent by request id.
   */
  async rotate(
    claims: CitybaseClaims,
    requestId: string,
  ): Promise<{ key: StoredSigningKey; published: StoredSigningKey[] }> {
    if (!tenancyFilter(claims).all) {
      throw new DomainError(
        'permission_denied',
        'CITY_ADMIN_REQUIRED',
        'only an unrestricted city admin client may rotate the signing keys',
        { rule: 'requires scope city:admin and no tenancy restriction' },
      );
    }
    const { resourceId, replayed } = await this.mutations.runWithOutcome({
      method: 'ClientService.RotateSigningKey',
      claims,
      requestId,
      command: {},
      done: 'signing key rotated',
      execute: async ({ client, resourceId: rotationId, emit, note }) => {
        await ensureSigningKeys(client, this.wrap); // takes the key-set lock
        const active = await findKeysInState(client, ['current', 'next']);
        const current = active.find((k) => k.state === 'current');
        const next = active.find((k) => k.state === 'next');
        if (!current || !next)
          throw new Error('signing keys: no current or next key after ensureSigningKeys');
        await retireCurrentAndPromoteNext(client, current.kid, next.kid);
        await insertNewKey(client, this.wrap, 'next');
        const rotatedAt = await insertRotation(client, rotationId, next.kid, current.kid);
        await emit(
          IdentityEvents.SigningKeyRotated,
          { kid: next.kid, previousKid: current.kid, occurredAt: toTimestamp(rotatedAt) },
          { key: SIGNING_KEYS_EVENT_KEY, subject: next.kid },
        );
        note({ kid: next.kid, previous_kid: current.kid });
      },
      // the rotation is read below, after the commit and the key ring's reload
      replay: async () => undefined,
    });
    if (!replayed) await this.ring.reload();
    const rotation = await findRotation(this.pool, resourceId);
    const key = rotation && (await findKey(this.pool, rotation.kid));
    if (!rotation || !key) throw new Error(`signing key rotation ${resourceId} not found after commit`);
    return { key, published: await this.ring.published() };
  }
}
