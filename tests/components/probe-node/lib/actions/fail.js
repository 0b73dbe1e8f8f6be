exports.process = async function processAction(msg) {
  throw new TypeError(`cannot handle ${JSON.stringify(msg.body)}`);
};
