/** Step code that ends its own process: what it emitted before still reaches the platform. */
exports.process = async function processAction() {
  await this.emit('data', { body: { before: 'exit' } });
  process.exit(4);
};
