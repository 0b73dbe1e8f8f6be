/** The request's trace as the component sees it: in its log line, and in what it returns. */
exports.process = async function traced(msg) {
  this.logger.info(`traced probe at work on ${JSON.stringify(msg.body)}`);
  return { body: { traceparent: this.traceparent, body: msg.body } };
};
