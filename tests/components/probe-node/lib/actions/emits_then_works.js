/** An event emitted before a long piece of work goes out while the work runs. */
exports.process = async function processAction(msg) {
  await this.emit('data', { body: { first: true } });
  await new Promise((resolve) => setTimeout(resolve, Number(msg.body.seconds ?? 2) * 1000));
  return { body: { second: true } };
};
