import { generateFeature } from './feature';
import { UsageError } from './names';
import { checkService, generateService, Refusal, updateService } from './service';
import { Tree, WORKSPACE_ROOT } from './tree';

const USAGE = `usage:
  npm run generate -- service <name> [--owns "<what it owns>"]   a new service, entered in every registry
  npm run generate -- service <name> --check                     compare a service with the generator's output
  npm run generate -- service <name> --update                    rewrite what differs (never an existing seed file)
  npm run generate -- feature <service> <feature> [--entity <e>] a feature room in a service`;

/** Exit codes: 0 done (or no differences), 1 differences found by --check, 2 refused or bad usage. */
export async function main(argv: string[], root = WORKSPACE_ROOT, out = console.log): Promise<number> {
  const flags = new Map<string, string | true>();
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check' || a === '--update') flags.set(a.slice(2), true);
    else if (a === '--owns' || a === '--entity') flags.set(a.slice(2), argv[++i] ?? '');
    else if (a.startsWith('-')) return usage(out, `unknown option ${a}`);
    else args.push(a);
  }
  const tree = new Tree(root);
  try {
    if (args[0] === 'service' && args.length === 2) {
      const name = args[1];
      if (flags.has('check')) {
        const diffs = await checkService(tree, name);
        for (const d of diffs) out(`${d.path}: ${d.problem}${d.diff ? `\n${d.diff}` : ''}`);
        out(
          diffs.length === 0
            ? `service ${name}: matches the generator`
            : `service ${name}: ${diffs.length} difference(s)`,
        );
        return diffs.length === 0 ? 0 : 1;
      }
      if (flags.has('update')) {
        const written = await updateService(tree, name);
        for (const p of written) out(`  wrote ${p}`);
        out(
          `service ${name}: ${written.length === 0 ? 'matches the generator, nothing written' : `${written.length} file(s) written`}`,
        );
        return 0;
      }
      const owns = flags.get('owns');
      const w = await generateService(tree, name, { owns: typeof owns === 'string' ? owns : undefined });
      out(
        `service ${name}: gRPC ${w.entry.grpcPort}, HTTP ${w.entry.httpPort}, database ${w.entry.database}`,
      );
      for (const p of w.created) out(`  created ${p}`);
      for (const p of w.edited) out(`  edited  ${p}`);
      out(`next (docs/adding-a-service.md):
  1. write the RPCs in proto/citybase/${name}/v1/${name}.proto (and events.proto)
  2. npx nx run contracts:generate && npm install --package-lock-only
  3. a FOREIGN entry per RPC in tools/e2e/test/authz-matrix.int-spec.ts
  4. features: npm run generate -- feature ${name} <feature>`);
      return 0;
    }
    if (args[0] === 'feature' && args.length === 3 && !flags.has('check') && !flags.has('update')) {
      const entity = flags.get('entity');
      const w = await generateFeature(tree, args[1], args[2], {
        entity: typeof entity === 'string' ? entity : undefined,
      });
      for (const p of w.created) out(`  created ${p}`);
      for (const p of w.edited) out(`  edited  ${p}`);
      return 0;
    }
    return usage(out);
  } catch (err) {
    if (err instanceof Refusal || err instanceof UsageError) {
      out(`refused: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

function usage(out: (s: string) => void, problem?: string): number {
  if (problem) out(problem);
  out(USAGE);
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
