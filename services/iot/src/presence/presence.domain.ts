/**
 * Presence rules (docs/iot.md "Presence"), pure. A device's connections are numbered by the device
 * (`session`, only growing); its lifecycle messages (state topic: connected, disconnected, and the
 * broker's last will) carry the session they are about. Whatever order they arrive in, and however
 * often:
 *  - a message about an older session than the one shown changes nothing;
 *  - within a session, offline is final: a late or repeated "online" of a session that ended does
 *    not bring the device back;
 *  - a newer session's message applies, online or offline;
 *  - other messages (telemetry, events, alarms) only move last_seen_at, and bring back a device the
 *    inactivity timeout took offline in its current session (it was silent, not gone);
 *  - silent for longer than its profile's inactivity timeout: offline (reason "inactive").
 * `version` counts the changes of `online`.
 */

export interface Presence {
  online: boolean;
  version: bigint;
  session: bigint;
  reason: string;
  lastSeenAt: Date | null;
}

export type PresenceInput =
  | { kind: 'lifecycle'; online: boolean; session: bigint; reason: string; at: Date }
  | { kind: 'activity'; at: Date };

export const INITIAL: Presence = { online: false, version: 0n, session: 0n, reason: '', lastSeenAt: null };

export function applyPresence(p: Presence, input: PresenceInput): Presence {
  const lastSeenAt = !p.lastSeenAt || input.at > p.lastSeenAt ? input.at : p.lastSeenAt;
  if (input.kind === 'activity') {
    const revive = !p.online && p.reason === 'inactive' && p.session > 0n;
    return revive
      ? { ...p, online: true, version: p.version + 1n, reason: 'active', lastSeenAt }
      : { ...p, lastSeenAt };
  }
  if (input.session < p.session) return { ...p, lastSeenAt };
  if (input.session === p.session) {
    // offline is final within a session; online again within it only after an inactivity timeout
    if (input.online && !p.online && p.reason !== 'inactive') return { ...p, lastSeenAt };
    if (input.online === p.online) return { ...p, lastSeenAt };
    return { ...p, online: input.online, version: p.version + 1n, reason: input.reason, lastSeenAt };
  }
  const changed = input.online !== p.online;
  return {
    online: input.online,
    version: changed ? p.version + 1n : p.version,
    session: input.session,
    reason: changed ? input.reason : p.reason,
    lastSeenAt,
  };
}
