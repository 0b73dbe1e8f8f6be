exports.process = async function processAction(msg, cfg, snapshot) {
  await this.emit('updateSnapshot', { seen: (snapshot.seen || 0) + 1 });
  return { body: { seen_before: snapshot.seen || 0 } };
};
