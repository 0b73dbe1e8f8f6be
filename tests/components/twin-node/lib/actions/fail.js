/** A thrown error fails the message. */
exports.process = async function processAction(msg) {
  throw new Error(`cannot handle order ${msg.body.order}`);
};
