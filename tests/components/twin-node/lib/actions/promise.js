/** A returned promise's value is the output message; end follows by itself. */
exports.process = async function processAction(msg, cfg) {
  this.logger.info('adding %d and %d', msg.body.a, msg.body.b);
  return { body: { sum: msg.body.a + msg.body.b, unit: cfg.unit || 'none' } };
};
