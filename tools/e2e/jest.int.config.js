// Two suites at a time: each spends most of its time waiting on the processes it drives, and this
// project is the integration tier's longest (deploy/local/test.sh integration()). One at a time
// the tier took 16.5 min on 2026-12-07, two at a time 13.6 min, the other projects then the last
// to finish. Suites share nothing: each has its own databases, topic prefix and ports.
module.exports = { ...require('../../jest.base.js').int(__dirname), maxWorkers: 2 };
