exports.process = async function processAction(msg) {
  await this.emit('httpReply', { statusCode: 201, body: { created: msg.body }, headers: { 'x-probe': 'yes' } });
  await this.emit('end');
};
