import type { ServiceNames } from './names';

/**
 * The files outside services/<name>/ that list every service, and how a service is entered in
 * each. Every edit is idempotent: it adds the service's entry when missing, rewrites it to what it
 * must say when it says something else (ports), and leaves the text unchanged when it is right, so
 * `--check` is "applying the edit changes nothing".
 */

export interface ServiceEntry extends ServiceNames {
  grpcPort: number;
  httpPort: number;
  /** What the service owns (the "What runs" table of docs/architecture.md). */
  owns: string;
  /** Version ranges of the root package.json, for the service's package.json. */
  versions: { '@nestjs/common': string; zod: string };
}

export interface Registry {
  path: string;
  /** What a reader is told this entry is. */
  what: string;
  apply(text: string, s: ServiceEntry): string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function fail(path: string, what: string): never {
  throw new Error(
    `${path}: cannot find ${what}; was it restructured? Update tools/generate/src/registries.ts`,
  );
}

/** `NAME=(a b c)` in a shell script: appends the service. */
function shellList(path: string, variable: string) {
  return (text: string, s: ServiceEntry): string => {
    const re = new RegExp(`^${variable}=\\(([^)]*)\\)$`, 'm');
    const m = re.exec(text) ?? fail(path, `${variable}=(...)`);
    const names = m[1].split(/\s+/).filter(Boolean);
    if (names.includes(s.name)) return text;
    return text.replace(re, `${variable}=(${[...names, s.name].join(' ')})`);
  };
}

/** `declare -A NAME=([a]=1 [b]=2)`: sets the service's value. */
function shellMap(path: string, variable: string, value: (s: ServiceEntry) => number) {
  return (text: string, s: ServiceEntry): string => {
    const re = new RegExp(`^declare -A ${variable}=\\(([^)]*)\\)$`, 'm');
    const m = re.exec(text) ?? fail(path, `declare -A ${variable}=(...)`);
    const entries = m[1].split(/\s+/).filter(Boolean);
    const mine = `[${s.name}]=${value(s)}`;
    const at = entries.findIndex((e) => e.startsWith(`[${s.name}]=`));
    if (at >= 0) entries[at] = mine;
    else entries.push(mine);
    return text.replace(re, `declare -A ${variable}=(${entries.join(' ')})`);
  };
}

/** A row of a Markdown table (first cell = service name), inserted after the table's last service row. */
function markdownRow(
  path: string,
  heading: string,
  row: (s: ServiceEntry, existing: string[] | undefined) => string[],
  /** First cells of rows that are not services and stay last (e.g. Kafka). */
  trailing: string[] = [],
) {
  return (text: string, s: ServiceEntry): string => {
    const lines = text.split('\n');
    const h = lines.findIndex((l) => l.trim() === heading);
    if (h < 0) fail(path, `the heading "${heading}"`);
    let start = h + 1;
    while (start < lines.length && !lines[start].startsWith('|')) start++;
    let end = start;
    while (end < lines.length && lines[end].startsWith('|')) end++;
    if (end - start < 2) fail(path, `the table under "${heading}"`);
    const cells = (l: string) =>
      l
        .slice(1, l.lastIndexOf('|'))
        .split('|')
        .map((c) => c.trim());
    const body = lines.slice(start + 2, end);
    const at = body.findIndex((l) => cells(l)[0] === s.name);
    const mine = `| ${row(s, at >= 0 ? cells(body[at]) : undefined).join(' | ')} |`;
    if (at >= 0) body[at] = mine;
    else {
      const firstTrailing = body.findIndex((l) => trailing.includes(cells(l)[0] ?? ''));
      body.splice(firstTrailing >= 0 ? firstTrailing : body.length, 0, mine);
    }
    return [...lines.slice(0, start + 2), ...body, ...lines.slice(end)].join('\n');
  };
}

/** `export const SERVICES = ['a', 'b'];` (exported or not) in a TypeScript file. */
function tsNameList(path: string) {
  return (text: string, s: ServiceEntry): string => {
    const re = /^(export )?const SERVICES = \[([^\]]*)\];$/m;
    const m = re.exec(text) ?? fail(path, 'const SERVICES = [...]');
    const names = [...m[2].matchAll(/'([a-z0-9]+)'/g)].map((x) => x[1]);
    if (names.includes(s.name)) return text;
    const list = [...names, s.name].map((n) => `'${n}'`).join(', ');
    return text.replace(re, `${m[1] ?? ''}const SERVICES = [${list}];`);
  };
}

export const REGISTRIES: Registry[] = [
  {
    path: 'deploy/local/infra.sh',
    what: 'SERVICES (its database citybase_<name>)',
    apply: shellList('deploy/local/infra.sh', 'SERVICES'),
  },
  {
    path: 'deploy/local/start.sh',
    what: 'SERVICES and the GRPC_PORT / HTTP_PORT tables',
    apply: (text, s) => {
      const path = 'deploy/local/start.sh';
      let t = shellList(path, 'SERVICES')(text, s);
      t = shellMap(path, 'GRPC_PORT', (x) => x.grpcPort)(t, s);
      return shellMap(path, 'HTTP_PORT', (x) => x.httpPort)(t, s);
    },
  },
  {
    path: 'libs/contracts/src/services.ts',
    what: 'the gRPC service definition and the process that serves it',
    apply: (text, s) => {
      const path = 'libs/contracts/src/services.ts';
      const definition = `${s.grpcService}Service`;
      let t = text;
      // the import, among the generated-code imports sorted by path
      const from = `./citybase/${s.name}/v1/${s.name}`;
      if (!t.includes(`from '${from}';`)) {
        const lines = t.split('\n');
        const imports = lines.flatMap((l, i) => (/^import .* from '\.\/citybase\/.*';$/.test(l) ? [i] : []));
        if (imports.length === 0) fail(path, "the imports from './citybase/...'");
        const after = imports.find((i) => (/from '(.*)';$/.exec(lines[i])?.[1] ?? '') > from);
        lines.splice(after ?? imports[imports.length - 1] + 1, 0, `import { ${definition} } from '${from}';`);
        t = lines.join('\n');
      }
      // the CitybaseService union
      const union = /export type CitybaseService =([^;]*);/;
      const u = union.exec(t) ?? fail(path, 'export type CitybaseService = ...;');
      const members = [...u[1].matchAll(/'([a-z0-9]+)'/g)].map((x) => x[1]);
      if (!members.includes(s.name))
        t = t.replace(
          union,
          `export type CitybaseService = ${[...members, s.name].map((n) => `'${n}'`).join(' | ')};`,
        );
      // the grpcServices entry
      const key = `'${s.fqService}':`;
      if (!t.includes(key)) {
        const map = /(export const grpcServices[^=]*= \{\n)([\s\S]*?)(\n\};)/;
        if (!map.test(t)) fail(path, 'export const grpcServices ... = { ... };');
        t = t.replace(
          map,
          (_, open: string, body: string, close: string) =>
            `${open}${body}\n  ${key} { service: '${s.name}', definition: ${definition} },${close}`,
        );
      }
      return t;
    },
  },
  {
    path: 'README.md',
    what: 'a row of the Ports table',
    apply: markdownRow(
      'README.md',
      '## Ports',
      (s) => [s.name, String(s.grpcPort), String(s.httpPort), `\`${s.database}\``],
      ['Kafka'],
    ),
  },
  {
    path: 'docs/architecture.md',
    what: 'a row of the "What runs" table',
    apply: markdownRow('docs/architecture.md', '## What runs', (s, existing) => [
      s.name,
      existing?.[1] || s.owns,
      String(s.grpcPort),
      String(s.httpPort),
    ]),
  },
  {
    path: 'tools/simulator/src/descriptor-rpc.ts',
    what: 'SERVICES (the processes the authorization matrix and the hostile-input suite start)',
    apply: tsNameList('tools/simulator/src/descriptor-rpc.ts'),
  },
  {
    path: 'tools/e2e/test/npm-start.int-spec.ts',
    what: 'SERVICES (what npm start must bring up, with its ports)',
    apply: (text, s) => {
      const path = 'tools/e2e/test/npm-start.int-spec.ts';
      const table = /(const SERVICES = \[\n)([\s\S]*?)(\n\] as const;)/;
      const m = table.exec(text) ?? fail(path, 'const SERVICES = [ ... ] as const;');
      const rows = m[2].split('\n');
      const re = new RegExp(`^\\s*\\['${escape(s.name)}', \\d+, \\d+, '(\\w+)'\\],$`);
      const at = rows.findIndex((r) => re.test(r));
      // the proto service the test asks for health: kept when present (identity's is TenancyService)
      const grpc = (at >= 0 && re.exec(rows[at])?.[1]) || s.grpcService;
      const mine = `  ['${s.name}', ${s.grpcPort}, ${s.httpPort}, '${grpc}'],`;
      if (at >= 0) rows[at] = mine;
      else rows.push(mine);
      return text.replace(
        table,
        (_, open: string, _body: string, close: string) => `${open}${rows.join('\n')}${close}`,
      );
    },
  },
];

/** The ports of a service as the local stack (start.sh) assigns them, if it is listed there. */
export function portsInStartSh(
  startSh: string,
  name: string,
): { grpcPort: number; httpPort: number } | undefined {
  const port = (variable: string) => {
    const m = new RegExp(`^declare -A ${variable}=\\(([^)]*)\\)$`, 'm').exec(startSh);
    const e = m?.[1]?.split(/\s+/).find((x) => x.startsWith(`[${name}]=`));
    return e === undefined ? undefined : Number(e.slice(e.indexOf('=') + 1));
  };
  const grpcPort = port('GRPC_PORT');
  const httpPort = port('HTTP_PORT');
  return grpcPort !== undefined && httpPort !== undefined ? { grpcPort, httpPort } : undefined;
}

/** Every port start.sh assigns or defaults (services, the sandbox channel), plus the infrastructure's. */
export function usedPorts(startSh: string): Set<number> {
  const used = new Set([5432, 6379, 1883, 9092, 9093]);
  for (const m of startSh.matchAll(/\[[a-z0-9]+\]=(\d+)/g)) used.add(Number(m[1]));
  for (const m of startSh.matchAll(/_PORT:-(\d+)/g)) used.add(Number(m[1]));
  return used;
}

/** The next free gRPC and HTTP ports after the highest ones start.sh assigns (50058/8088 after data). */
export function nextPorts(startSh: string): { grpcPort: number; httpPort: number } {
  const table = (variable: string) => {
    const m = new RegExp(`^declare -A ${variable}=\\(([^)]*)\\)$`, 'm').exec(startSh);
    if (!m) throw new Error(`deploy/local/start.sh: cannot find declare -A ${variable}=(...)`);
    return [...m[1].matchAll(/=(\d+)/g)].map((x) => Number(x[1]));
  };
  const used = usedPorts(startSh);
  const next = (ports: number[]) => {
    let p = Math.max(...ports) + 1;
    while (used.has(p)) p++;
    return p;
  };
  return { grpcPort: next(table('GRPC_PORT')), httpPort: next(table('HTTP_PORT')) };
}
