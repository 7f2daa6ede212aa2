#!/usr/bin/env node
// The `citybase` executable (package.json "bin"). A fixed file rather than dist/main.js itself, so
// the link npm makes in node_modules/.bin stays executable after every rebuild of dist/.
'use strict';
require('../dist/main.js')
  .cli(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
