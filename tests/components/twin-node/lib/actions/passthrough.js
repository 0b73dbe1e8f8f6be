/** Earlier steps' messages by step id ({body, headers, stepId}), and the flow's variables. */
exports.process = async function processAction(msg) {
  const hook = msg.passthrough.hook;
  return {
    body: {
      fromHook: hook.body,
      hookHeader: hook.headers['x-source'] || null,
      region: this.getFlowVariables().region || null,
    },
  };
};
