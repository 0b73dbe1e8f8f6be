/** A polling trigger's state: updateSnapshot merges, snapshot replaces. */
exports.process = async function processAction(msg, cfg, snapshot) {
  const polls = (snapshot.polls || 0) + 1;
  if (msg.body.reset) {
    await this.emit('snapshot', { polls: 0, resetAt: msg.body.reset });
  } else {
    await this.emit('updateSnapshot', { polls, last: msg.body.since });
  }
  return { body: { previous: snapshot.last || null, polls } };
};
