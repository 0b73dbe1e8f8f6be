const childProcess = require('child_process');
const fs = require('fs');

/** What bypasses process.stdout: a raw write to fd 1 (pino's default destination) and a child with inherited stdio. */
exports.process = async function processAction(msg) {
  fs.writeSync(1, 'noise written to fd 1\n');
  childProcess.spawnSync('sh', ['-c', 'echo noise from a child process'], { stdio: 'inherit' });
  return { body: msg.body };
};
