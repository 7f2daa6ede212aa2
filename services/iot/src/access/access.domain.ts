import { createHash, randomInt } from 'crypto';
import { DomainError } from '@citybase/platform';

/**
 * Pure rules of doors and couriers (docs/iot.md "Doors and couriers").
 *
 * A door controller guards one building entrance or one unit door. A resident may open it when
 * they, or a member of their household, hold an ACTIVE door-access grant for exactly that building
 * or unit, not past its valid_until (identity's grants, projected from its events). Couriers
 * registered in identity enter with a one-time code a resident or merchant issued for one home:
 * the code opens the home's building entrance once for entry and once for exit, until it expires.
 */

export interface DoorScope {
  buildingId: string | null;
  unitId: string | null;
}

export interface GrantView extends DoorScope {
  grantId: string;
  residentId: string;
  status: 'ACTIVE' | 'REVOKED' | 'EXPIRED';
  validUntil: Date | null;
}

/** The grant that lets one of `residentIds` (the resident and their household) open `door` now. */
export function grantOpening(
  door: DoorScope,
  residentIds: ReadonlySet<string>,
  grants: readonly GrantView[],
  now: Date,
): GrantView | undefined {
  return grants.find(
    (g) =>
      residentIds.has(g.residentId) &&
      g.status === 'ACTIVE' &&
      (g.validUntil === null || g.validUntil.getTime() > now.getTime()) &&
      ((door.unitId !== null && g.unitId === door.unitId) ||
        (door.buildingId !== null && g.buildingId === door.buildingId)),
  );
}

export const COURIER_CODE = { digits: 6, maxTtlMs: 24 * 3_600_000, defaultTtlMs: 2 * 3_600_000 } as const;

export function newCourierCode(): string {
  return String(randomInt(0, 10 ** COURIER_CODE.digits)).padStart(COURIER_CODE.digits, '0');
}

/** Codes are stored hashed, scoped by project: a leaked table gives no working codes. */
export function courierCodeHash(projectId: string, code: string): string {
  return createHash('sha256').update(`${projectId}:${code}`).digest('hex');
}

export function courierCodeExpiry(ttlSeconds: number, now: Date): Date {
  const ms = ttlSeconds === 0 ? COURIER_CODE.defaultTtlMs : ttlSeconds * 1000;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ms > COURIER_CODE.maxTtlMs)
    throw DomainError.invalid('ttl_seconds', `must be from 0 to ${COURIER_CODE.maxTtlMs / 1000}`);
  return new Date(now.getTime() + ms);
}

export type CourierCodeState = 'ISSUED' | 'ENTERED' | 'EXITED' | 'REVOKED';

export type CodeUse = 'ENTRY' | 'EXIT';

export type CodeDecision =
  | { kind: 'ALLOW'; use: CodeUse; next: CourierCodeState }
  | {
      kind: 'REFUSE';
      code: 'CODE_EXPIRED' | 'CODE_USED' | 'CODE_REVOKED' | 'CODE_WRONG_GATE';
      message: string;
    };

/**
 * A code at a gate: entry once (ISSUED > ENTERED, before expiry), then exit once (ENTERED >
 * EXITED, allowed after expiry so nobody is locked in).
 */
export function decideCodeUse(
  state: CourierCodeState,
  expiresAt: Date,
  codeBuildingId: string,
  door: DoorScope,
  now: Date,
): CodeDecision {
  if (door.buildingId !== codeBuildingId)
    return { kind: 'REFUSE', code: 'CODE_WRONG_GATE', message: 'the code is for another building' };
  switch (state) {
    case 'REVOKED':
      return { kind: 'REFUSE', code: 'CODE_REVOKED', message: 'the code was revoked' };
    case 'EXITED':
      return { kind: 'REFUSE', code: 'CODE_USED', message: 'the code was already used to enter and leave' };
    case 'ENTERED':
      return { kind: 'ALLOW', use: 'EXIT', next: 'EXITED' };
    case 'ISSUED':
      if (now.getTime() >= expiresAt.getTime())
        return { kind: 'REFUSE', code: 'CODE_EXPIRED', message: 'the code expired' };
      return { kind: 'ALLOW', use: 'ENTRY', next: 'ENTERED' };
  }
}
