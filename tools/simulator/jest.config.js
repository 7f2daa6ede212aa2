module.exports = require('../../jest.base.js').unit(__dirname);
