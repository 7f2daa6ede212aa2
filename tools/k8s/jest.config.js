const path = require('path');
const base = require('../../jest.base.js').unit(__dirname);

// The schema packages (kubernetes-models and its CRD siblings) are ESM only, with `import`-only
// export maps that Jest's CommonJS resolver does not read: their paths are mapped to the files here,
// and SWC turns those files (and is-cidr, which they import) into CommonJS, like jose in
// jest.base.js. (The built CLI keeps a real import(): build.swcrc.)
const nm = path.join(__dirname, '../../node_modules');
const esm = ['kubernetes-models', '@kubernetes-models', 'is-cidr', 'cidr-regex', 'jose'];
module.exports = {
  ...base,
  moduleNameMapper: {
    ...base.moduleNameMapper,
    '^@kubernetes-models/base$': `${nm}/@kubernetes-models/base/dist/index.js`,
    '^@kubernetes-models/validate$': `${nm}/@kubernetes-models/validate/dist/index.js`,
    '^@kubernetes-models/validate/runtime/(.*?)(\\.js)?$': `${nm}/@kubernetes-models/validate/dist/runtime/$1.js`,
    '^(@kubernetes-models/(?:apimachinery|strimzi-kafka-operator|cloudnative-pg)/.*?)(\\.js)?$': `${nm}/$1.js`,
    '^(kubernetes-models/.*?)(\\.js)?$': `${nm}/$1.js`,
  },
  transform: {
    ...base.transform,
    [`/node_modules/(${esm.join('|')})/.+\\.js$`]: ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esm.join('|')})/)`],
};
