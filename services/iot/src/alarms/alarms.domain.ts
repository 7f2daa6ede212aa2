import type { AlarmRule } from '../profiles/profiles';

/**
 * Alarm rules (docs/iot.md "Alarms"), pure. A threshold rule watches one metric: above `above`
 * for `sustainedS` seconds of the device's clock raises (0 s: the first such reading); at or below
 * `clearAtOrBelow` (default `above`) clears the open alarm and forgets the condition; between the
 * two nothing changes but the sustain timer restarts. Readings older than the last one evaluated
 * are ignored (out of order).
 */

export interface Condition {
  aboveSince: Date | null;
  lastAt: Date | null;
}

export type Decision = 'raise' | 'clear' | 'none';

export function evaluateRule(
  rule: AlarmRule,
  condition: Condition,
  reading: { value: number; at: Date },
): { condition: Condition; decision: Decision } {
  if (condition.lastAt && reading.at < condition.lastAt) return { condition, decision: 'none' };
  const clearAt = rule.clearAtOrBelow ?? rule.above;
  if (reading.value > rule.above) {
    const aboveSince = condition.aboveSince ?? reading.at;
    const sustained = reading.at.getTime() - aboveSince.getTime() >= rule.sustainedS * 1000;
    return { condition: { aboveSince, lastAt: reading.at }, decision: sustained ? 'raise' : 'none' };
  }
  return {
    condition: { aboveSince: null, lastAt: reading.at },
    decision: reading.value <= clearAt ? 'clear' : 'none',
  };
}

export type AlarmStatus = 'active_unacked' | 'acked' | 'cleared';

/** Acknowledging: an active alarm becomes ACKED; a cleared one stays cleared, marked acknowledged. */
export function decideAcknowledge(
  status: AlarmStatus,
  acknowledged: boolean,
): { status: AlarmStatus; changed: boolean } {
  if (acknowledged) return { status, changed: false };
  return { status: status === 'cleared' ? 'cleared' : 'acked', changed: true };
}

/** Clearing: any open alarm becomes CLEARED; clearing a cleared one changes nothing. */
export function decideClear(status: AlarmStatus): { status: AlarmStatus; changed: boolean } {
  return status === 'cleared' ? { status, changed: false } : { status: 'cleared', changed: true };
}
