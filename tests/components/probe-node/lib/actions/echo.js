exports.process = async function processAction(msg) {
  console.log('echo writes to stdout; the runtime must route this to stderr');
  return { body: msg.body };
};
