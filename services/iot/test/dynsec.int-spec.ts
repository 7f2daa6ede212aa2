import mqtt, { MqttClient } from 'mqtt';
import { testEndpoints, uniqueName } from '@citybase/platform/testing';
import { DynsecAdmin } from '../src/mqtt/dynsec';
import type { DynsecAcl } from '../src/mqtt/topics';

/**
 * iot's broker accounts are provisioned repeatably (DynsecAdmin.upsertClient), and every iot
 * replica provisions the shared service user at start. Mosquitto's dynamic-security plugin
 * disconnects every connection of a user whose password is set, even to the one it has: so an
 * upsert writes only what differs, and a replica starting leaves the others connected.
 */
describe('iot: provisioning a broker account again writes only what differs (project Mosquitto)', () => {
  const url = testEndpoints.iotMqttUrl();
  const admin = new DynsecAdmin({ url, ...testEndpoints.iotMqttAdmin() });
  const username = uniqueName('svc-upsert');
  const role = `${username}-role`;
  const topic = `${username}/t`;
  const acls = (extra: DynsecAcl[] = []): DynsecAcl[] => [
    { acltype: 'publishClientSend', topic: `${username}/#`, allow: true },
    { acltype: 'subscribePattern', topic: `${username}/#`, allow: true },
    { acltype: 'publishClientReceive', topic: `${username}/#`, allow: true },
    ...extra,
  ];
  const clients: MqttClient[] = [];

  /** A connection of the user, as an iot replica holds one, counting the times it was closed. */
  async function connection(password: string): Promise<{ client: MqttClient; closes: () => number }> {
    const client = mqtt.connect(url, {
      username,
      password,
      clientId: uniqueName('replica'),
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    clients.push(client);
    let closes = 0;
    client.on('close', () => (closes += 1));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    return { client, closes: () => closes };
  }

  /**
   * A QoS 1 publish acknowledged on the connection: had the broker disconnected it while
   * provisioning (which it answered before this publish was sent), the DISCONNECT comes first.
   */
  const roundTrip = (c: MqttClient) =>
    new Promise<void>((resolve, reject) => {
      if (!c.connected) return reject(new Error('disconnected by the broker'));
      c.once('close', () => reject(new Error('disconnected by the broker')));
      c.publish(topic, 'ping', { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });

  const roleAcls = async () => {
    const [r] = await admin.run([{ command: 'getRole', rolename: role }]);
    return ((r?.data as { role?: { acls?: DynsecAcl[] } }).role?.acls ?? [])
      .map((a) => `${a.acltype} ${a.topic} ${a.allow}`)
      .sort();
  };

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await admin.deleteClient(username, role);
    await admin.end();
  });

  it('an upsert of the account as it is (a second replica starting) leaves its connections up', async () => {
    await admin.upsertClient({ username, password: 'pw-1', role, acls: acls() });
    const first = await connection('pw-1');
    await admin.upsertClient({ username, password: 'pw-1', role, acls: acls() });
    await roundTrip(first.client);
    expect({ closes: first.closes(), connected: first.client.connected }).toEqual({
      closes: 0,
      connected: true,
    });
    expect(await admin.passwordWorks(username, 'pw-1')).toBe(true);
  });

  it('a changed ACL is applied (the role holds exactly the list asked) and leaves the connections up', async () => {
    const c = await connection('pw-1');
    const extra: DynsecAcl = { acltype: 'subscribeLiteral', topic: `${username}/more`, allow: true };
    await admin.upsertClient({ username, password: 'pw-1', role, acls: acls([extra]) });
    await roundTrip(c.client);
    expect(c.closes()).toBe(0);
    expect(await roleAcls()).toEqual(
      acls([extra])
        .map((a) => `${a.acltype} ${a.topic} ${a.allow}`)
        .sort(),
    );
    await admin.upsertClient({ username, password: 'pw-1', role, acls: acls() });
    expect(await roleAcls()).toEqual(
      acls()
        .map((a) => `${a.acltype} ${a.topic} ${a.allow}`)
        .sort(),
    );
  });

  it('a changed password is set: the old one stops working, the new one works', async () => {
    expect(await admin.passwordWorks(username, 'pw-2')).toBe(false);
    await admin.upsertClient({ username, password: 'pw-2', role, acls: acls() });
    expect(await admin.passwordWorks(username, 'pw-2')).toBe(true);
    expect(await admin.passwordWorks(username, 'pw-1')).toBe(false);
  });
});
