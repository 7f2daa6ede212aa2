import { rmSync } from 'fs';
import { WORKSPACE_ROOT, Tree } from './tree';
import { main } from './main';
import { nextPorts } from './registries';
import { checkService, generateService, planService, Refusal, updateService } from './service';
import { REGISTRY_PATHS, scratchTree } from './testing';

// Generated files are formatted by prettier in a child process (src/format.ts): seconds, not milliseconds.
jest.setTimeout(60_000);

const STUBS = ['points', 'marketing', 'iot', 'data'];
const workspace = new Tree(WORKSPACE_ROOT);

describe('the four stub services are the generator output', () => {
  it.each(STUBS)('%s: `service %s --check` finds no difference', async (name) => {
    expect(await checkService(workspace, name)).toEqual([]);
  });

  it.each(STUBS)(
    '%s: while it has no feature room, its seed files are the generator output too',
    async (name) => {
      const rooms = workspace
        .list(`services/${name}/src`)
        .filter((f) => workspace.isDir(`services/${name}/src/${f}`));
      const plan = await planService(workspace, name);
      const seeds = plan.files.filter(
        (f) => f.kind === 'seed' && f.path.startsWith('services/') && f.path.endsWith('.ts'),
      );
      expect(seeds.map((f) => f.path)).toHaveLength(4);
      // once a feature is generated, definition.ts/module grow: from then on only --check's markers apply
      if (rooms.length > 0) return;
      for (const f of seeds) expect([f.path, workspace.read(f.path)]).toEqual([f.path, f.content]);
    },
  );

  it('--check reports an edited exact file, a lost marker, a missing seed and a registry without the service', async () => {
    const tree = scratchTree([
      'services/points',
      'docs/points.md',
      'proto/citybase/points',
      ...REGISTRY_PATHS,
    ]);
    try {
      expect(await checkService(tree, 'points')).toEqual([]);
      tree.write(
        'services/points/project.json',
        tree.need('services/points/project.json').replace('scope:points', 'scope:x'),
      );
      tree.write(
        'services/points/src/config.ts',
        tree.need('services/points/src/config.ts').replace('50054', '50099'),
      );
      rmSync(tree.path('docs/points.md'));
      tree.write('deploy/local/infra.sh', tree.need('deploy/local/infra.sh').replace(' points ', ' '));
      tree.write('README.md', tree.need('README.md').replace(/^\| points .*\n/m, ''));
      const diffs = await checkService(tree, 'points');
      expect(diffs.map((d) => d.path)).toEqual([
        'services/points/project.json',
        'services/points/src/config.ts',
        'docs/points.md',
        'deploy/local/infra.sh',
        'README.md',
      ]);
      expect(diffs[2]?.problem).toBe('missing');
      expect(diffs[0]?.diff).toContain(
        ['-   "tags": ["type:service", "scope:x"],', '+   "tags": ["type:service", "scope:points"],'].join(
          '\n',
        ),
      );
      expect(diffs[1]?.problem).toBe('no longer says: grpcPort: 50054');
      // --update restores what the generator owns, and never an existing seed file
      expect(await updateService(tree, 'points')).toEqual([
        'services/points/project.json',
        'docs/points.md',
        'deploy/local/infra.sh',
        'README.md',
      ]);
      expect((await checkService(tree, 'points')).map((d) => d.path)).toEqual([
        'services/points/src/config.ts',
      ]);
    } finally {
      tree.dispose();
    }
  });
});

describe('service <name>', () => {
  it('creates every file of a new service and enters it in every registry; a second run refuses', async () => {
    const tree = scratchTree(REGISTRY_PATHS);
    try {
      const before = new Map(REGISTRY_PATHS.map((p) => [p, tree.need(p)]));
      const written = await generateService(tree, 'demo', { owns: 'demo things' });
      expect(written.entry).toMatchObject({ grpcPort: 50058, httpPort: 8088, database: 'citybase_demo' });
      expect(written.created.sort()).toEqual(
        [
          'docs/demo.md',
          'proto/citybase/demo/v1/demo.proto',
          'proto/citybase/demo/v1/events.proto',
          'services/demo/jest.config.js',
          'services/demo/jest.int.config.js',
          'services/demo/migrations/.gitkeep',
          'services/demo/package.json',
          'services/demo/project.json',
          'services/demo/src/config.ts',
          'services/demo/src/definition.ts',
          'services/demo/src/demo.module.ts',
          'services/demo/src/instrumentation.ts',
          'services/demo/src/main.ts',
          'services/demo/test/service.int-spec.ts',
        ].sort(),
      );
      for (const p of written.created) expect([p, tree.exists(p)]).toEqual([p, true]);
      expect(written.edited.sort()).toEqual([...REGISTRY_PATHS].sort());

      // each registry gains the service's lines and loses nothing
      const added = (p: string) => {
        const old = (before.get(p) ?? '').split('\n');
        const now = tree.need(p).split('\n');
        // only the lines that list the services change; nothing else is lost
        const lost = old.filter((l) => !now.includes(l) && !/SERVICES|_PORT=|CitybaseService/.test(l));
        expect([p, lost]).toEqual([p, []]);
        return now.filter((l) => !old.includes(l)).join('\n');
      };
      expect(added('deploy/local/infra.sh')).toBe(
        'SERVICES=(identity payment settlement points marketing iot data demo)',
      );
      expect(added('deploy/local/start.sh')).toContain('[data]=50057 [demo]=50058)');
      expect(added('deploy/local/start.sh')).toContain('[data]=8087 [demo]=8088)');
      expect(added('libs/contracts/src/services.ts')).toContain(
        "import { DemoServiceService } from './citybase/demo/v1/demo';",
      );
      expect(added('libs/contracts/src/services.ts')).toContain(
        "'citybase.demo.v1.DemoService': { service: 'demo', definition: DemoServiceService },",
      );
      expect(tree.need('libs/contracts/src/services.ts')).toMatch(/'data' \| 'demo';/);
      expect(added('README.md')).toMatch(/^\| demo +\| 50058 +\| 8088 +\| `citybase_demo` +\|$/);
      expect(added('docs/architecture.md')).toMatch(/^\| demo +\| demo things +\| 50058 \| 8088 \|$/);
      expect(added('tools/simulator/src/descriptor-rpc.ts')).toContain("'data', 'demo'];");
      expect(added('tools/e2e/test/npm-start.int-spec.ts')).toBe("  ['demo', 50058, 8088, 'DemoService'],");
      // the README row comes before Kafka's
      expect(tree.need('README.md').indexOf('| demo ')).toBeLessThan(
        tree.need('README.md').indexOf('| Kafka '),
      );
      expect(tree.need('services/demo/src/config.ts')).toContain(
        "serviceConfigSchema({ grpcPort: 50058, httpPort: 8088, database: 'citybase_demo' })",
      );
      expect(tree.need('proto/citybase/demo/v1/demo.proto')).toContain('service DemoService {}');

      expect(await checkService(tree, 'demo')).toEqual([]);

      const snapshot = new Map([...REGISTRY_PATHS, ...written.created].map((p) => [p, tree.read(p)]));
      await expect(generateService(tree, 'demo')).rejects.toThrow(Refusal);
      const out: string[] = [];
      expect(await main(['service', 'demo'], tree.root, (s) => out.push(s))).toBe(2);
      expect(out.join('\n')).toMatch(/^refused: service demo exists already \(services\/demo\)/);
      for (const [p, text] of snapshot) expect([p, tree.read(p)]).toEqual([p, text]);

      // the next service gets the next ports
      expect((await generateService(tree, 'parking')).entry).toMatchObject({
        grpcPort: 50059,
        httpPort: 8089,
      });
    } finally {
      tree.dispose();
    }
  });

  it('refuses bad names with exit code 2 and writes nothing', async () => {
    const tree = scratchTree(REGISTRY_PATHS);
    try {
      for (const name of ['Demo', 'two-words', 'x', 'platform', 'e2e']) {
        const out: string[] = [];
        expect([name, await main(['service', name], tree.root, (s) => out.push(s))]).toEqual([name, 2]);
        expect(out[0]).toMatch(/^refused: /);
      }
      expect(tree.list('services')).toEqual([]);
    } finally {
      tree.dispose();
    }
  });

  it('skips ports that the local stack uses for something else', () => {
    const startSh = [
      'declare -A GRPC_PORT=([a]=50051 [b]=50052)',
      'declare -A HTTP_PORT=([a]=8088 [b]=8089)',
      'SANDBOX_PORT="${SANDBOX_PORT:-8090}"',
    ].join('\n');
    expect(nextPorts(startSh)).toEqual({ grpcPort: 50053, httpPort: 8091 });
  });
});
