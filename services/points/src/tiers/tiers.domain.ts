/**
 * Pure rules of tiers (no I/O). A programme's tiers rise by threshold, the first one's is 0; an
 * account's tier is the highest whose threshold its rolling earnings reach. An account's stored tier
 * '' (never changed yet) stands for the first tier.
 */

export interface TierRule {
  name: string;
  threshold: bigint;
}

/** The tier rolling earnings reach ('' when the programme has no tiers). */
export function tierFor(tiers: readonly TierRule[], rolling: bigint): string {
  let name = '';
  for (const t of tiers) if (rolling >= t.threshold) name = t.name;
  return name;
}

/** The rank of a stored tier: '' is the first tier (0); a tier the programme no longer has: -1. */
export function rankOf(tiers: readonly TierRule[], tier: string): number {
  if (tier === '') return 0;
  return tiers.findIndex((t) => t.name === tier);
}

/** The tier an account is in, as answered (GetBalance, TierChanged): '' means the first tier. */
export function effectiveTier(tiers: readonly TierRule[], tier: string): string {
  return tier === '' ? (tiers[0]?.name ?? '') : tier;
}

/**
 * After an earning: the tier to move up to, or undefined when the rolling earnings reach no tier
 * above the current one (an earning never moves an account down; the tier job does).
 */
export function upgradeTo(tiers: readonly TierRule[], current: string, rolling: bigint): string | undefined {
  if (tiers.length === 0) return undefined;
  const target = tierFor(tiers, rolling);
  return rankOf(tiers, target) > rankOf(tiers, current) ? target : undefined;
}

/**
 * The tier job: the tier the rolling earnings reach now, when it differs from the current one
 * (down as earnings leave the window, up after the thresholds changed; '' when the programme's
 * tiers were removed). Undefined: no change ('' and the first tier are the same).
 */
export function reviewTo(tiers: readonly TierRule[], current: string, rolling: bigint): string | undefined {
  const target = tierFor(tiers, rolling);
  if (effectiveTier(tiers, current) === target && rankOf(tiers, current) >= 0) return undefined;
  return target;
}
