import type { ServiceEntry } from './registries';

/**
 * The files of a new service. `exact` files are the same for every service but for its name and
 * ports and stay so (`--check` compares them byte for byte); `seed` files are where the service's
 * own code and contracts grow, so `--check` only requires them to exist and to still say what the
 * rest of the tree relies on (`markers`).
 */
export interface PlannedFile {
  path: string;
  content: string;
  kind: 'exact' | 'seed';
  markers?: string[];
}

export function serviceFiles(s: ServiceEntry): PlannedFile[] {
  const dir = `services/${s.name}`;
  const config = `${s.name}Config`;
  return [
    {
      path: `${dir}/package.json`,
      // the service's dependencies grow with its feature rooms (their gRPC transport imports
      // @grpc/grpc-js and @nestjs/microservices), so only its identity is the generator's
      kind: 'seed',
      markers: [`"name": "@citybase/${s.name}"`, '"main": "dist/main.js"', '"@citybase/platform": "*"'],
      content: JSON.stringify(
        {
          name: `@citybase/${s.name}`,
          version: '0.1.0',
          private: true,
          license: 'Apache-2.0',
          main: 'dist/main.js',
          // what the generated code imports (the lint's dependency check), root package.json's ranges
          dependencies: {
            '@citybase/contracts': '*',
            '@citybase/platform': '*',
            '@nestjs/common': s.versions['@nestjs/common'],
            zod: s.versions.zod,
          },
        },
        null,
        2,
      ),
    },
    {
      path: `${dir}/project.json`,
      kind: 'exact',
      content: `{
  "name": "${s.name}",
  "$schema": "../../node_modules/nx/schemas/project-schema.json",
  "sourceRoot": "services/${s.name}/src",
  "projectType": "application",
  "tags": ["type:service", "scope:${s.name}"],
  "targets": {
    "build": {
      "executor": "nx:run-commands",
      "options": {
        "command": "rm -rf dist && swc src -d dist --strip-leading-paths --config-file ../../.swcrc --quiet",
        "cwd": "{projectRoot}"
      }
    },
    "lint": {
      "executor": "nx:run-commands",
      "options": { "command": "eslint package.json src test --no-error-on-unmatched-pattern", "cwd": "{projectRoot}" }
    },
    "test": {
      "executor": "nx:run-commands",
      "options": { "command": "jest -c jest.config.js --passWithNoTests", "cwd": "{projectRoot}" }
    },
    "int-test": {
      "executor": "nx:run-commands",
      "options": { "command": "jest -c jest.int.config.js --passWithNoTests", "cwd": "{projectRoot}" }
    },
    "serve": {
      "executor": "nx:run-commands",
      "continuous": true,
      "options": { "command": "node dist/main.js", "cwd": "{projectRoot}" }
    }
  }
}
`,
    },
    {
      path: `${dir}/jest.config.js`,
      kind: 'exact',
      content: `module.exports = require('../../jest.base.js').unit(__dirname);\n`,
    },
    {
      path: `${dir}/jest.int.config.js`,
      kind: 'exact',
      content: `module.exports = require('../../jest.base.js').int(__dirname);\n`,
    },
    {
      path: `${dir}/src/instrumentation.ts`,
      kind: 'exact',
      content: `// Loaded first by main.ts: tracing must hook gRPC, Kafka, pg and Redis before they are required.
import { startTelemetry } from '@citybase/platform/telemetry';

startTelemetry('${s.name}');
`,
    },
    {
      path: `${dir}/src/config.ts`,
      kind: 'seed',
      markers: [
        `export const ${config} = serviceConfigSchema({`,
        `grpcPort: ${s.grpcPort}`,
        `httpPort: ${s.httpPort}`,
        `database: '${s.database}'`,
      ],
      content: `import { serviceConfigSchema } from '@citybase/platform';
import type { z } from 'zod';

export const ${config} = serviceConfigSchema({ grpcPort: ${s.grpcPort}, httpPort: ${s.httpPort}, database: '${s.database}' });
export type ${s.Name}Config = z.infer<typeof ${config}>;
`,
    },
    {
      path: `${dir}/src/main.ts`,
      kind: 'exact',
      content: `import './instrumentation';
import { runService } from '@citybase/platform';
import { definition } from './definition';

void runService(definition);
`,
    },
    {
      path: `${dir}/src/definition.ts`,
      kind: 'seed',
      markers: [
        `export const definition = defineService({`,
        `name: '${s.name}',`,
        `root: join(__dirname, '..'),`,
        `'${s.fqService}': ${s.grpcService}Service`,
      ],
      content: `import { join } from 'path';
import { defineService } from '@citybase/platform';
import { ${s.grpcService}Service } from '@citybase/contracts/citybase/${s.name}/v1/${s.name}';
import { ${config} } from './config';
import { ${s.Name}Module } from './${s.name}.module';

/** The ${s.name} service: what main.ts runs and what the in-process integration tests start. */
export const definition = defineService({
  name: '${s.name}',
  root: join(__dirname, '..'),
  configSchema: ${config},
  module: ${s.Name}Module,
  grpcServices: { '${s.fqService}': ${s.grpcService}Service },
});
`,
    },
    {
      path: `${dir}/src/${s.name}.module.ts`,
      kind: 'seed',
      markers: [`export class ${s.Name}Module`],
      content: `import { Module } from '@nestjs/common';

/** The ${s.name} service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({})
export class ${s.Name}Module {}
`,
    },
    { path: `${dir}/migrations/.gitkeep`, kind: 'seed', content: '' },
    {
      path: `${dir}/test/service.int-spec.ts`,
      kind: 'seed',
      markers: [`describeServiceProcess('${s.name}',`, `'${s.fqService}'`],
      content: `import { describeServiceProcess } from '@citybase/platform/testing';

describeServiceProcess('${s.name}', ['${s.fqService}']);
`,
    },
    {
      path: `proto/citybase/${s.name}/v1/${s.name}.proto`,
      kind: 'seed',
      markers: [
        `package citybase.${s.name}.v1;`,
        `citybase/common/v1/auth.proto`,
        `service ${s.grpcService} {`,
      ],
      content: `syntax = "proto3";

package citybase.${s.name}.v1;

// import "citybase/common/v1/auth.proto";  (with the first RPC: buf lint refuses an unused import)

// The ${s.name} service: ${s.owns}.
//
// Every RPC declares who may call it (ADR 0005; the transport refuses an RPC without it):
//   rpc CreateThing(CreateThingRequest) returns (CreateThingResponse) {
//     option (citybase.common.v1.required_scope) = "${s.name}:write";
//   }
// "${s.name}:read" for questions, "${s.name}:write" for commands. Every mutating request has a
// request_id (idempotency key), money is citybase.common.v1.Money (import common.proto), and a
// resource carries its citybase.common.v1.TenancyRef. The process starts once the service has its
// first RPC (grpc-js refuses to serve an empty service).
service ${s.grpcService} {}
`,
    },
    {
      path: `proto/citybase/${s.name}/v1/events.proto`,
      kind: 'seed',
      markers: [`package citybase.${s.name}.v1;`],
      content: `syntax = "proto3";

package citybase.${s.name}.v1;

// Event payloads of the ${s.name} service: facts that happened, published on topic
// ${s.topic} through the transactional outbox (ctx.emit inside a mutation), one message per
// fact, each with its tenancy and occurred_at, e.g.
//   // Topic ${s.topic}, key = thing_id.
//   message ThingCreated {
//     string thing_id = 1;
//     citybase.common.v1.TenancyRef tenancy = 2;
//     google.protobuf.Timestamp occurred_at = 3;
//   }
// Register each type in libs/contracts/src/events.ts after \`npx nx run contracts:generate\`.
`,
    },
    {
      path: `docs/${s.name}.md`,
      kind: 'seed',
      content: `# ${s.Name}

The ${s.name} service (\`services/${s.name}\`, contracts in \`proto/citybase/${s.name}/v1\`): ${s.owns}.

| gRPC | HTTP (\`/healthz\`, \`/readyz\`, \`/metrics\`) | database | events topic |
| ---- | ---- | ---- | ---- |
| ${s.grpcPort} | ${s.httpPort} | \`${s.database}\` | \`${s.topic}\` |

## Features

One section per feature room (\`services/${s.name}/src/<feature>/\`, made with
\`npm run generate -- feature ${s.name} <feature>\`): what it owns, its RPCs and their scopes, the
events it emits and consumes, its jobs and its configuration.
`,
    },
  ];
}
