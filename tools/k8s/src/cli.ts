// `npx nx run k8s:generate`: writes the generated files of deploy/k8s/base.
// `npx nx run k8s:render -- <overlay>`: prints an overlay's objects as YAML (like `kubectl kustomize`).
// `npx nx run k8s:validate`: renders both overlays and validates every object against the pinned schemas.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { generatedFiles } from './generate';
import { kustomize } from './kustomize';
import { serviceTopics } from './topics';
import { SCHEMA_VERSIONS, validateObject } from './validate';

const ROOT = resolve(__dirname, '../../..');
const K8S = join(ROOT, 'deploy/k8s');

async function main(): Promise<number> {
  const [command, arg] = process.argv.slice(2);
  if (command === 'generate') {
    for (const [path, text] of Object.entries(generatedFiles(serviceTopics(ROOT)))) {
      const file = join(K8S, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text); // the generate target runs Prettier over them next
      console.log(`wrote deploy/k8s/${path}`);
    }
    return 0;
  }
  if (command === 'render') {
    const objects = kustomize(join(K8S, 'overlays', arg ?? 'dev'));
    process.stdout.write(objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
    return 0;
  }
  if (command === 'validate') {
    let failed = 0;
    for (const overlay of ['dev', 'production']) {
      const objects = kustomize(join(K8S, 'overlays', overlay));
      for (const o of objects) {
        const r = await validateObject(o);
        if (r.errors.length) {
          failed++;
          console.log(`${overlay}: ${r.object}: ${r.errors.join('; ')}`);
        }
      }
      console.log(`${overlay}: ${objects.length} objects rendered`);
    }
    console.log(`schemas: ${Object.values(SCHEMA_VERSIONS).join('; ')}`);
    console.log(failed ? `${failed} objects invalid` : 'every object valid');
    return failed ? 1 : 0;
  }
  console.error('usage: cli.js generate | render <dev|production> | validate');
  return 2;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
