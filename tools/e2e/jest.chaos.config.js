module.exports = require('../../jest.base.js').chaos(__dirname);
