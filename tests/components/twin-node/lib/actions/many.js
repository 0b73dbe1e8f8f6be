/** Many messages for one: each emit awaited, as sailor's emit is. */
exports.process = async function processAction(msg) {
  const count = msg.body.count || 3;
  for (let index = 0; index < count; index += 1) {
    await this.emit('data', { body: { index, of: count } });
  }
};
