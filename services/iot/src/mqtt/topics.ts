/**
 * The topic layout of the project's broker (docs/iot.md "Topics"). Every device topic is
 *
 *   <root>/<project_id>/devices/<device_id>/<channel>
 *
 * with <root> = IOT_MQTT_TOPIC_ROOT ("city"). Up (device > iot): telemetry, events, alarms, state,
 * commands/ack. Down (iot > device): commands. A device's ACL (deviceAcls) lets it publish only to
 * its own up channels and subscribe only to its own commands topic.
 */

/** Channels a device publishes to. */
export const UP_CHANNELS = ['telemetry', 'events', 'alarms', 'state', 'commands/ack'] as const;
export type UpChannel = (typeof UP_CHANNELS)[number];
/** The channel iot publishes device commands to. */
export const COMMANDS_CHANNEL = 'commands';
export type Channel = UpChannel | typeof COMMANDS_CHANNEL;

/** Project and device ids may be used as topic levels: no wildcards, separators or $. */
const LEVEL = /^[A-Za-z0-9_.:-]{1,128}$/;

export function assertTopicLevel(what: string, value: string): string {
  if (!LEVEL.test(value)) throw new Error(`${what} ${JSON.stringify(value)} cannot be an MQTT topic level`);
  return value;
}

/** The level after the root of iot's own topics (never a device topic: no "devices" level after it). */
const IOT_OWN = '_iot';

/** What a device topic names. */
export interface DeviceTopic {
  readonly projectId: string;
  readonly deviceId: string;
  readonly channel: Channel;
}

/** Parsed topics kept by Topics.parse: more than a city's devices times their channels; cleared when full. */
const PARSED_TOPICS_MAX = 100_000;

export class Topics {
  /** Every message's topic is parsed: by topic, the answer (null: not a device topic). */
  private readonly parsed = new Map<string, DeviceTopic | null>();

  constructor(readonly root: string) {
    assertTopicLevel('topic root', root);
  }

  /** <root>/<project>/devices/<device>: what a device's credentials name as its topic_prefix. */
  devicePrefix(projectId: string, deviceId: string): string {
    return `${this.root}/${assertTopicLevel('project id', projectId)}/devices/${assertTopicLevel('device id', deviceId)}`;
  }

  device(projectId: string, deviceId: string, channel: Channel): string {
    return `${this.devicePrefix(projectId, deviceId)}/${channel}`;
  }

  /** The filter of one channel of every device of every project (for iot's subscriptions). */
  everyDevice(channel: Channel): string {
    return `${this.root}/+/devices/+/${channel}`;
  }

  /**
   * iot's own topics (no device's): <root>/_iot/... The marker an instance sends itself when it
   * hands a session back (MqttConnection.handBack) goes to <root>/_iot/handback/<client id>.
   */
  handbackMarker(clientId: string): string {
    return `${this.root}/${IOT_OWN}/handback/${clientId.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
  }

  /** A device topic's parts, or undefined for a topic outside the layout. */
  parse(topic: string): DeviceTopic | undefined {
    const known = this.parsed.get(topic);
    if (known !== undefined) return known ?? undefined;
    const parsed = this.parseLevels(topic);
    if (this.parsed.size >= PARSED_TOPICS_MAX) this.parsed.clear();
    this.parsed.set(topic, parsed ?? null);
    return parsed;
  }

  private parseLevels(topic: string): DeviceTopic | undefined {
    const parts = topic.split('/');
    if (parts.length < 5 || parts[0] !== this.root || parts[2] !== 'devices') return undefined;
    const channel = parts.slice(4).join('/');
    if (!(UP_CHANNELS as readonly string[]).includes(channel) && channel !== COMMANDS_CHANNEL)
      return undefined;
    const projectId = parts[1] as string;
    const deviceId = parts[3] as string;
    if (!LEVEL.test(projectId) || !LEVEL.test(deviceId)) return undefined;
    return Object.freeze({ projectId, deviceId, channel: channel as Channel });
  }
}

/** A shared subscription: the group's members split the messages of `filter` between them. */
export function sharedSubscription(group: string, filter: string): string {
  return `$share/${assertTopicLevel('share group', group)}/${filter}`;
}

/** One ACL entry of the dynamic-security plugin. */
export interface DynsecAcl {
  acltype:
    | 'publishClientSend'
    | 'publishClientReceive'
    | 'subscribeLiteral'
    | 'subscribePattern'
    | 'unsubscribeLiteral'
    | 'unsubscribePattern';
  topic: string;
  allow: boolean;
  priority?: number;
}

/**
 * A device's ACL: publish to its own up channels only, subscribe to (and receive) its own commands
 * topic only. Everything else falls to the broker's defaults (publish and subscribe denied).
 */
export function deviceAcls(topics: Topics, projectId: string, deviceId: string): DynsecAcl[] {
  const up: DynsecAcl[] = UP_CHANNELS.map((c) => ({
    acltype: 'publishClientSend',
    topic: topics.device(projectId, deviceId, c),
    allow: true,
  }));
  const commands = topics.device(projectId, deviceId, COMMANDS_CHANNEL);
  return [
    ...up,
    { acltype: 'subscribeLiteral', topic: commands, allow: true },
    { acltype: 'publishClientReceive', topic: commands, allow: true },
  ];
}

/** iot's own ACL: subscribe to every device's up channels (shared too), publish commands. */
export function serviceAcls(topics: Topics, shareGroup: string): DynsecAcl[] {
  const all = `${topics.root}/#`;
  return [
    { acltype: 'subscribePattern', topic: all, allow: true },
    { acltype: 'subscribePattern', topic: sharedSubscription(shareGroup, all), allow: true },
    { acltype: 'publishClientReceive', topic: all, allow: true },
    { acltype: 'publishClientSend', topic: topics.everyDevice(COMMANDS_CHANNEL), allow: true },
    { acltype: 'publishClientSend', topic: `${topics.root}/${IOT_OWN}/#`, allow: true },
  ];
}
