// The Kafka topics the services use: every event type's topic (libs/contracts/src/events.ts) and the
// dead-letter topic `citybase.dlq.<consumer>` of every @EventConsumer in services/*/src.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { allEvents } from '@citybase/contracts/events';

const CONSUMER = /@EventConsumer\(\s*'([^']+)'/g;

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (entry.endsWith('.ts') && !entry.endsWith('.spec.ts')) out.push(path);
  }
  return out;
}

/** Consumer names declared with @EventConsumer('<name>') in the services' sources. */
export function eventConsumers(root: string): string[] {
  const names = new Set<string>();
  const services = join(root, 'services');
  for (const svc of readdirSync(services)) {
    const src = join(services, svc, 'src');
    try {
      statSync(src);
    } catch {
      continue;
    }
    for (const file of tsFiles(src))
      for (const m of readFileSync(file, 'utf8').matchAll(CONSUMER)) names.add(m[1]);
  }
  return [...names].sort();
}

export function serviceTopics(root: string): string[] {
  const topics = new Set(allEvents.types().map((t) => t.topic));
  for (const c of eventConsumers(root)) topics.add(`citybase.dlq.${c}`);
  return [...topics].sort();
}
