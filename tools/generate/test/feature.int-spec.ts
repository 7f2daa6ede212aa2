import { join } from 'path';
import * as ts from 'typescript';
import { generateFeature } from '../src/feature';
import { scratchTree } from '../src/testing';
import { WORKSPACE_ROOT } from '../src/tree';

/** Type errors of the given files (and what they import) under the workspace's compiler options. */
function typeErrors(files: string[]): { program: ts.Program; errors: string[] } {
  const configFile = ts.readConfigFile(join(WORKSPACE_ROOT, 'tsconfig.base.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, WORKSPACE_ROOT);
  const program = ts.createProgram(files, {
    ...options,
    noEmit: true,
    baseUrl: WORKSPACE_ROOT,
    typeRoots: [join(WORKSPACE_ROOT, 'node_modules/@types')],
    // the temporary tree has no node_modules: the workspace's stand in
    paths: { ...options.paths, '*': ['node_modules/*', 'node_modules/@types/*'] },
  });
  const errors = ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  return { program, errors };
}

/**
 * A generated feature room compiles: generated into a temporary copy of a stub service, its files
 * and the edited service module are type-checked with the workspace's compiler options and
 * `@citybase/*` paths (the workspace's node_modules standing in for the temporary tree's).
 * Integration tier: the TypeScript program over the platform library takes a while.
 */
describe('a generated feature room', () => {
  it('type-checks with the workspace settings, with several rooms in one service', async () => {
    const tree = scratchTree(['services/iot', 'docs/iot.md']);
    try {
      const first = await generateFeature(tree, 'iot', 'device-commands');
      const second = await generateFeature(tree, 'iot', 'telemetry');
      const roots = [
        ...first.created,
        ...second.created,
        'services/iot/src/iot.module.ts',
        'services/iot/src/main.ts',
      ]
        .filter((p) => p.endsWith('.ts'))
        .map((p) => tree.path(p));

      const { program, errors } = typeErrors(roots);
      expect(errors).toEqual([]);
      // the generated files were part of the program, not skipped
      for (const root of roots)
        expect([root, program.getSourceFile(root) !== undefined]).toEqual([root, true]);
    } finally {
      tree.dispose();
    }
  });

  it('fails to type-check when a generated file is broken (the check above can fail)', async () => {
    const tree = scratchTree(['services/iot']);
    try {
      const written = await generateFeature(tree, 'iot', 'sirens');
      const service = 'services/iot/src/sirens/sirens.service.ts';
      tree.write(service, tree.need(service).replace('decideArchive({', 'decideArchive(42, {'));
      const { errors } = typeErrors(
        written.created.filter((p) => p.endsWith('.ts')).map((p) => tree.path(p)),
      );
      expect(errors.join('\n')).toMatch(/sirens\.service\.ts: Expected 1 arguments, but got 2/);
    } finally {
      tree.dispose();
    }
  });
});
