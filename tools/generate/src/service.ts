import { formatFiles } from './format';
import { lineDiff } from './diff';
import { checkServiceName, serviceNames, UsageError } from './names';
import { nextPorts, portsInStartSh, REGISTRIES, ServiceEntry } from './registries';
import { PlannedFile, serviceFiles } from './service-templates';
import { Tree, WORKSPACE_ROOT } from './tree';

/** A refusal the command reports with exit code 2 (nothing was written). */
export class Refusal extends Error {}

export interface ServiceOptions {
  /** What the service owns (docs/architecture.md, docs/<name>.md, the proto comment). */
  owns?: string;
}

export interface Planned {
  entry: ServiceEntry;
  files: PlannedFile[];
  /** Registry files as they must read with the service entered (formatted). */
  registries: { path: string; what: string; content: string }[];
}

const START_SH = 'deploy/local/start.sh';

function ownsFromArchitecture(tree: Tree, name: string): string | undefined {
  const row = (tree.read('docs/architecture.md') ?? '')
    .split('\n')
    .find((l) => l.startsWith(`| ${name} `) || l.startsWith(`| ${name}|`));
  return row?.split('|')[2]?.trim() || undefined;
}

/** The root package.json's ranges of what a service's generated code imports. */
function rootVersions(tree: Tree): ServiceEntry['versions'] {
  const text = tree.read('package.json') ?? new Tree(WORKSPACE_ROOT).need('package.json');
  const deps = (JSON.parse(text) as { dependencies?: Record<string, string> }).dependencies ?? {};
  const range = (pkg: string) => {
    const v = deps[pkg];
    if (v === undefined) throw new Error(`package.json: no dependency ${pkg}`);
    return v;
  };
  return { '@nestjs/common': range('@nestjs/common'), zod: range('zod') };
}

/** Everything `service <name>` writes, rendered against the tree (ports: start.sh's, or the next free ones). */
export async function planService(tree: Tree, name: string, opts: ServiceOptions = {}): Promise<Planned> {
  checkServiceName(name);
  const startSh = tree.need(START_SH);
  const ports = portsInStartSh(startSh, name) ?? nextPorts(startSh);
  const entry: ServiceEntry = {
    ...serviceNames(name),
    ...ports,
    versions: rootVersions(tree),
    owns: opts.owns ?? ownsFromArchitecture(tree, name) ?? `what the ${name} service owns (to be written)`,
  };
  // one formatting batch (one prettier process) for the files and the registries
  const files = serviceFiles(entry);
  const all = formatFiles([
    ...files,
    ...REGISTRIES.map((r) => ({ path: r.path, content: r.apply(tree.need(r.path), entry) })),
  ]);
  return {
    entry,
    files: files.map((f, i) => ({ ...f, content: all[i]?.content ?? f.content })),
    registries: REGISTRIES.map((r, i) => ({
      path: r.path,
      what: r.what,
      content: all[files.length + i]?.content ?? '',
    })),
  };
}

/** Whether anything of the service exists already (its folder, its proto package, its project name). */
export function serviceExists(tree: Tree, name: string): string | undefined {
  for (const p of [`services/${name}`, `proto/citybase/${name}`, `libs/${name}`, `tools/${name}`])
    if (tree.exists(p)) return p;
  return undefined;
}

export interface Written {
  created: string[];
  edited: string[];
  entry: ServiceEntry;
}

/** `service <name>`: creates the service's files and enters it in every registry. Refuses an existing service. */
export async function generateService(tree: Tree, name: string, opts: ServiceOptions = {}): Promise<Written> {
  checkServiceName(name);
  const existing = serviceExists(tree, name);
  if (existing !== undefined)
    throw new Refusal(
      `service ${name} exists already (${existing}); nothing was written. ` +
        `To compare it with the generator's output: npm run generate -- service ${name} --check`,
    );
  const plan = await planService(tree, name, opts);
  for (const f of plan.files) tree.write(f.path, f.content);
  const edited: string[] = [];
  for (const r of plan.registries) {
    if (tree.read(r.path) === r.content) continue;
    tree.write(r.path, r.content);
    edited.push(r.path);
  }
  return { created: plan.files.map((f) => f.path), edited, entry: plan.entry };
}

export interface Difference {
  path: string;
  problem: string;
  diff?: string;
}

/**
 * `service <name> --check`: the differences between the tree and what the generator would write
 * for this service. Exact files must be identical; seed files must exist and still carry their
 * markers; every registry must list the service as the generator would enter it.
 */
export async function checkService(tree: Tree, name: string): Promise<Difference[]> {
  checkServiceName(name);
  if (!tree.isDir(`services/${name}`))
    throw new UsageError(`service ${name}: services/${name}/ does not exist`);
  const plan = await planService(tree, name);
  const out: Difference[] = [];
  if (portsInStartSh(tree.need(START_SH), name) === undefined)
    out.push({
      path: START_SH,
      problem: `no ports for ${name} in GRPC_PORT/HTTP_PORT (compared with the next free ones)`,
    });
  for (const f of plan.files) {
    const actual = tree.read(f.path);
    if (f.path.endsWith('/.gitkeep')) {
      if (!tree.isDir(f.path.slice(0, -'/.gitkeep'.length)))
        out.push({ path: f.path.slice(0, -'.gitkeep'.length), problem: 'missing folder' });
      continue;
    }
    if (actual === undefined) {
      out.push({ path: f.path, problem: 'missing' });
    } else if (f.kind === 'exact') {
      if (actual !== f.content)
        out.push({ path: f.path, problem: 'differs from the generator', diff: lineDiff(actual, f.content) });
    } else {
      const lost = (f.markers ?? []).filter((m) => !actual.includes(m));
      if (lost.length > 0) out.push({ path: f.path, problem: `no longer says: ${lost.join(' ; ')}` });
    }
  }
  for (const r of plan.registries) {
    const actual = tree.read(r.path) ?? '';
    if (actual !== r.content)
      out.push({ path: r.path, problem: `${r.what}: not as generated`, diff: lineDiff(actual, r.content) });
  }
  return out;
}

/**
 * `service <name> --update`: brings an existing service back to the generator's output: rewrites
 * exact files and registries that differ and creates missing seed files; never touches a seed file
 * that exists (that is the service's own code). Returns the paths written.
 */
export async function updateService(tree: Tree, name: string): Promise<string[]> {
  checkServiceName(name);
  if (!tree.isDir(`services/${name}`))
    throw new UsageError(`service ${name}: services/${name}/ does not exist`);
  const plan = await planService(tree, name);
  const written: string[] = [];
  for (const f of plan.files) {
    if (f.path.endsWith('/.gitkeep')) {
      if (!tree.isDir(f.path.slice(0, -'/.gitkeep'.length))) {
        tree.write(f.path, f.content);
        written.push(f.path);
      }
      continue;
    }
    const actual = tree.read(f.path);
    if (actual === undefined || (f.kind === 'exact' && actual !== f.content)) {
      tree.write(f.path, f.content);
      written.push(f.path);
    }
  }
  for (const r of plan.registries)
    if (tree.read(r.path) !== r.content) {
      tree.write(r.path, r.content);
      written.push(r.path);
    }
  return written;
}
