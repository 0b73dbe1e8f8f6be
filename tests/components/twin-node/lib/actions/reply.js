/** An answer for the HTTP caller, refreshed credentials, and the message itself. */
exports.process = async function processAction(msg) {
  await this.emit('updateKeys', { access_token: `token-${msg.body.user}` });
  await this.emit('httpReply', { statusCode: 201, body: { created: msg.body.user }, headers: { 'x-twin': 'yes' } });
  return { body: { replied: true } };
};
