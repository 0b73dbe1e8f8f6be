/**
 * The hooks: startup once, init once per container (a connection kept for every message it
 * serves), shutdown when the container ends. Every message tells how often each ran.
 */
let startups = 0;
let inits = 0;
let calls = 0;
let connection = null;

exports.startup = async function startup(cfg) {
  startups += 1;
  return { startedFor: cfg.name };
};

exports.init = async function init(cfg) {
  inits += 1;
  connection = { name: cfg.name, opened: inits };
};

exports.process = async function processAction() {
  calls += 1;
  return { body: { connection, startups, calls } };
};

exports.shutdown = async function shutdown(cfg, startupData) {
  process.stderr.write(`twin: shutdown for ${cfg.name} after ${calls} calls, started for ${startupData.startedFor}\n`);
};
