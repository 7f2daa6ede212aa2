import type { UpChannel } from '../mqtt/topics';

/**
 * Parsing a device's MQTT message (docs/iot.md "Topics") into what ingest forwards. Pure: no I/O.
 * A message that is not valid JSON of its channel's shape is refused with the reason it is dropped.
 */

export interface ParsedMessage {
  channel: 'telemetry' | 'events' | 'alarms' | 'state';
  messageId: string;
  /** The device's clock, or undefined when it sent none. */
  ts: Date | undefined;
  readings: { metric: string; value: number }[];
  eventType: string;
  /** events: the event's own fields (e.g. a plate read's plate), as the device sent them. */
  data?: Record<string, unknown>;
  alarm?: { type: string; active: boolean; severity: 'INFO' | 'WARNING' | 'CRITICAL'; value?: number };
  state?: { online: boolean; session: bigint; reason: string };
}

export type ParseResult = { ok: true; message: ParsedMessage } | { ok: false; reason: string };

const METRIC = /^[a-z][a-z0-9_]{0,63}$/;
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const SEVERITIES = ['INFO', 'WARNING', 'CRITICAL'] as const;

export function parseDeviceMessage(channel: UpChannel, payload: Buffer): ParseResult {
  if (channel === 'commands/ack') return { ok: false, reason: 'not_ingested' };
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, reason: 'malformed' };
  const b = body as Record<string, unknown>;
  if (typeof b.id !== 'string' || !ID.test(b.id)) return { ok: false, reason: 'no_message_id' };
  let ts: Date | undefined;
  if (b.ts !== undefined) {
    const at = typeof b.ts === 'string' ? Date.parse(b.ts) : NaN; // parsed once
    if (Number.isNaN(at)) return { ok: false, reason: 'malformed' };
    ts = new Date(at);
  }
  const readings: { metric: string; value: number }[] = [];
  if (b.readings !== undefined) {
    if (typeof b.readings !== 'object' || b.readings === null || Array.isArray(b.readings))
      return { ok: false, reason: 'malformed' };
    const given = b.readings as Record<string, unknown>;
    // a parsed JSON object: its keys are its own enumerable properties (no entries array per message)
    for (const metric in given) {
      const value = given[metric];
      if (!METRIC.test(metric) || typeof value !== 'number' || !Number.isFinite(value))
        return { ok: false, reason: 'malformed' };
      readings.push({ metric, value });
    }
  }
  const message: ParsedMessage = { channel, messageId: b.id, ts, readings, eventType: '' };
  switch (channel) {
    case 'telemetry':
      if (readings.length === 0) return { ok: false, reason: 'malformed' };
      break;
    case 'events':
      if (typeof b.type !== 'string' || !/^[A-Z][A-Z0-9_]{0,63}$/.test(b.type))
        return { ok: false, reason: 'malformed' };
      message.eventType = b.type;
      if (b.data !== undefined) {
        if (typeof b.data !== 'object' || b.data === null || Array.isArray(b.data))
          return { ok: false, reason: 'malformed' };
        message.data = b.data as Record<string, unknown>;
      }
      break;
    case 'alarms': {
      const severity = (b.severity ?? 'WARNING') as string;
      if (typeof b.type !== 'string' || !/^[A-Z][A-Z0-9_]{0,63}$/.test(b.type))
        return { ok: false, reason: 'malformed' };
      if (typeof b.active !== 'boolean' || !(SEVERITIES as readonly string[]).includes(severity))
        return { ok: false, reason: 'malformed' };
      if (b.value !== undefined && (typeof b.value !== 'number' || !Number.isFinite(b.value)))
        return { ok: false, reason: 'malformed' };
      message.alarm = {
        type: b.type,
        active: b.active,
        severity: severity as 'INFO' | 'WARNING' | 'CRITICAL',
        value: b.value as number | undefined,
      };
      break;
    }
    case 'state': {
      if (typeof b.online !== 'boolean') return { ok: false, reason: 'malformed' };
      const session = b.session;
      if (typeof session !== 'number' || !Number.isSafeInteger(session) || session < 0)
        return { ok: false, reason: 'malformed' };
      const reason = typeof b.reason === 'string' ? b.reason : b.online ? 'connected' : 'disconnected';
      message.state = { online: b.online, session: BigInt(session), reason: reason.slice(0, 32) };
      break;
    }
  }
  return { ok: true, message };
}
