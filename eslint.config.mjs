// Citybase ESLint flat config (ESLint 9, typescript-eslint 8, @nx/eslint-plugin).
//
// Every project lints with `eslint src test` from its own root (see each project.json). ESLint finds
// this file by walking up from the cwd and resolves the globs below against this file's directory
// (not the cwd), so paths are written from the repo root. Type information comes from the typescript-eslint
// project service, which picks the nearest tsconfig.json: the root one, which includes
// libs/*/{src,test}, services/*/{src,test} and tools/*/{src,test}.
//
// @nx/enforce-module-boundaries reads the cached Nx project graph (.nx/workspace-data). `nx run <p>:lint`
// always refreshes it; a bare `npx eslint` on a fresh clone prints "No cached ProjectGraph is available.
// The rule will be skipped." until some nx command has run once.
//
// Note: tools/eslint-rules/ is reserved by @nx/eslint-plugin for workspace lint rules: if that folder
// exists it must contain a tsconfig.json (and an index exporting `rules`), or every ESLint run crashes on load.
import nx from '@nx/eslint-plugin';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';
import * as jsoncParser from 'jsonc-eslint-parser';

const rootDir = import.meta.dirname;

const TS_FILES = ['**/*.ts', '**/*.tsx', '**/*.cts', '**/*.mts'];
const JS_FILES = ['**/*.js', '**/*.jsx', '**/*.cjs', '**/*.mjs'];
/** Unit tests beside the code, integration tests, and anything under a project's test/ folder. */
const TEST_FILES = [
  '**/*.spec.ts',
  '**/*.int-spec.ts',
  '**/*.test.ts',
  '{libs,services,tools}/*/test/**/*.ts',
];

/**
 * Module boundaries. Every project carries a `type:` tag (and a `scope:` tag):
 * - services (`type:service`) may depend only on libs (`type:lib`): no service-to-service imports;
 * - libs (`type:lib`) may depend only on libs: libs never depend on services.
 * A project with no matching tag cannot depend on anything (Nx reports it), so new projects must be tagged.
 * Imports between projects must go through the `@citybase/*` names (tsconfig paths / workspace
 * packages); relative or absolute paths into another project are reported. `allow` is left empty on
 * purpose: an `@citybase/*` entry there would switch off *all* checks for those imports, including
 * the service-to-service one.
 */
const moduleBoundaries = {
  allow: [],
  enforceBuildableLibDependency: true,
  depConstraints: [
    { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:lib'] },
    { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
    { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib'] },
  ],
};

export default defineConfig(
  globalIgnores([
    '**/dist/',
    '**/node_modules/',
    '**/.local/',
    '**/.nx/',
    '**/coverage/',
    // Generated code (buf + ts-proto writes one folder per proto package: citybase/..., google/...);
    // freshness is checked by `nx run contracts:check`. The hand-written files at the top of
    // libs/contracts/src (descriptors.ts, *.spec.ts) stay linted: ignoring the whole folder would also
    // make `eslint src test` in libs/contracts fail with "all of the files matching 'src' are ignored".
    'libs/contracts/src/*/',
    '*.js', // root-level config files (jest.base.js, ...)
    '*.cjs',
    '*.mjs',
  ]),

  // Nx presets: registers the @nx plugin; eslint:recommended + typescript-eslint recommended for
  // TS and JS files (with Nx's small set of adjustments).
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],

  // Type-aware linting for TypeScript, against the root tsconfig.json (which includes
  // libs/*/{src,test}, services/*/{src,test}, tools/*/{src,test}).
  {
    files: TS_FILES,
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: rootDir,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        {
          considerDefaultExhaustiveForUnions: false,
          requireDefaultForNonUnion: false,
          allowDefaultCaseForExhaustiveSwitch: true,
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
      eqeqeq: ['error', 'always'],
    },
  },

  // Plain JS under src/test (e.g. jest global setup): no type information, CommonJS + Node globals.
  {
    files: JS_FILES,
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: 'commonjs' },
    rules: {
      eqeqeq: ['error', 'always'],
    },
  },

  {
    files: [...TS_FILES, ...JS_FILES],
    rules: {
      '@nx/enforce-module-boundaries': ['error', moduleBoundaries],
    },
  },

  // Declared dependencies: every project's package.json lists the packages its production code
  // imports (tests excluded: their packages are root devDependencies), with the version range of the
  // root package.json, which stays the one place npm installs from. `nx run <p>:lint` checks it.
  {
    files: ['{libs,services,tools}/*/package.json'],
    languageOptions: { parser: jsoncParser },
    rules: {
      '@nx/dependency-checks': [
        'error',
        {
          buildTargets: ['build'],
          checkMissingDependencies: true,
          checkObsoleteDependencies: true,
          checkVersionMismatches: true,
          // the platform's test kit (@citybase/platform/testing) is imported by tests only
          ignoredFiles: [
            ...TEST_FILES,
            '{libs,services,tools}/*/jest*.config.js',
            'libs/platform/src/testing/**',
          ],
        },
      ],
    },
  },

  // Tests: `any` is allowed (mocks, fixtures, invalid-input cases); importing the project under
  // test by its own `@citybase/...` name is fine too.
  {
    files: TEST_FILES,
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@nx/enforce-module-boundaries': ['error', { ...moduleBoundaries, allowCircularSelfDependency: true }],
    },
  },
);
