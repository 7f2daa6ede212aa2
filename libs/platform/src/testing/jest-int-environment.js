// Jest test environment of every integration suite (jest.base.js): Node's, plus Kafka cleanup.
// A suite takes its topic and consumer-group namespace from kafkaTestPrefix() (test-kit.ts), which
// lists the prefix on the suite's global object. After the suite's last afterAll hook (its
// services and consumers are stopped by then) the topics and consumer groups whose names start
// with one of those prefixes are deleted. Only those: the prefixes are unique (pid, time and
// random bytes), so a suite never deletes what another suite running at the same time uses.
const { TestEnvironment } = require('jest-environment-node');
const { Kafka, logLevel } = require('kafkajs');

const PREFIXES = '__citybaseKafkaPrefixes';

/** Deletes the topics and the (empty) consumer groups named with one of the prefixes. */
async function deleteKafkaPrefixes(brokers, prefixes) {
  const owned = (name) => prefixes.some((p) => name.startsWith(p));
  const kafka = new Kafka({
    clientId: 'citybase-test-cleanup',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 2 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const groupIds = groups.map((g) => g.groupId).filter(owned);
    const topics = (await admin.listTopics()).filter(owned);
    let groupsDeleted = 0;
    if (groupIds.length > 0) {
      // a group with a member left behind (a SIGKILLed process, until its session times out)
      // cannot be deleted; the broker drops it anyway once it is empty and its topics are gone
      const results = await admin.deleteGroups(groupIds).catch((err) => err.groups ?? []);
      groupsDeleted = results.filter((r) => !r.errorCode).length;
    }
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
    return { topics: topics.length, groups: groupsDeleted, groupsFound: groupIds.length };
  } finally {
    await admin.disconnect();
  }
}

class CitybaseIntegrationEnvironment extends TestEnvironment {
  async teardown() {
    const prefixes = this.global[PREFIXES] ?? [];
    if (prefixes.length > 0) {
      const brokers = (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(',').map((b) => b.trim());
      try {
        const n = await deleteKafkaPrefixes(brokers, prefixes);
        if (process.env.CITYBASE_TEST_CLEANUP_LOG === '1')
          process.stderr.write(
            `kafka cleanup of ${prefixes.join(' ')}: ${n.topics} topics, ${n.groups} of ${n.groupsFound} groups deleted\n`,
          );
      } catch (err) {
        process.stderr.write(`kafka cleanup of ${prefixes.join(' ')} failed: ${err.message}\n`);
      }
    }
    await super.teardown();
  }
}

module.exports = CitybaseIntegrationEnvironment;
module.exports.deleteKafkaPrefixes = deleteKafkaPrefixes;
