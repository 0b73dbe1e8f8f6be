/** A temporary failure: the platform retries the message later. */
exports.process = function processAction(msg) {
  this.emit('rebound', new Error(`target is down for ${msg.body.order}`));
  this.emit('end');
};
