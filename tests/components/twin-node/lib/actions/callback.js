const _ = require('lodash');

/** The oldest elastic.io style: nothing returned, the answer emitted later from a callback, then end. */
exports.process = function processAction(msg) {
  const self = this;
  setTimeout(() => {
    self.emit('data', { body: { greeting: `Hello, ${_.upperFirst(msg.body.name)}` }, headers: { 'x-style': 'callback' } });
    self.emit('end');
  }, 5);
};
