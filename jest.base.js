// One Jest setup for every project: unit tests (*.spec.ts) beside the code, integration tests
// (*.int-spec.ts) under test/ against real servers. SWC transpiles (with decorator metadata for
// NestJS); type checking is `npm run typecheck`.
const path = require('path');
const root = __dirname;

const base = (dir) => ({
  rootDir: dir,
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
          keepClassNames: true,
        },
        module: { type: 'commonjs' },
      },
    ],
    '/node_modules/jose/.+\\.js$': ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  // jose is ESM only: SWC turns it into CommonJS for Jest (Node itself loads it with require(esm)).
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@citybase/platform$': path.join(root, 'libs/platform/src/index.ts'),
    '^@citybase/platform/(.*)$': path.join(root, 'libs/platform/src/$1'),
    '^@citybase/contracts/(.*)$': path.join(root, 'libs/contracts/src/$1'),
    '^@citybase/device-sim$': path.join(root, 'tools/device-sim/src/index.ts'),
    '^@citybase/simulator$': path.join(root, 'tools/simulator/src/index.ts'),
    '^@citybase/simulator/(.*)$': path.join(root, 'tools/simulator/src/$1'),
  },
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
});

module.exports = {
  unit: (dir) => ({
    ...base(dir),
    displayName: path.basename(dir),
    testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
  }),
  int: (dir) => ({
    ...base(dir),
    displayName: `${path.basename(dir)}:int`,
    testMatch: ['<rootDir>/**/*.int-spec.ts'],
    testTimeout: 120_000,
    globalSetup: path.join(root, 'libs/platform/src/testing/jest-global-setup.js'),
    // deletes the topics and consumer groups a suite created under its kafkaTestPrefix()
    testEnvironment: path.join(root, 'libs/platform/src/testing/jest-int-environment.js'),
  }),
  // The whole-city tier (`npm run chaos`, deploy/local/chaos.sh): *.chaos-spec.ts under test/, each
  // running every service (and its own brokers or network namespace) for minutes; one at a time.
  chaos: (dir) => ({
    ...base(dir),
    displayName: `${path.basename(dir)}:chaos`,
    testMatch: ['<rootDir>/**/*.chaos-spec.ts'],
    testTimeout: 1_200_000,
    globalSetup: path.join(root, 'libs/platform/src/testing/jest-global-setup.js'),
    testEnvironment: path.join(root, 'libs/platform/src/testing/jest-int-environment.js'),
  }),
};
