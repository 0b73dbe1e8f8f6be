'use strict';
/**
 * Structured logs on stderr: one JSON object per line, tagged with the request being served.
 *
 * `this.logger` takes bunyan-style calls, as sailor's does: `info('text %s', x)`,
 * `info({field: 1}, 'text')`, `error(err, 'text')`. Its levels are mapped onto the names the
 * platform reads (the Python runtime's): trace and debug -> debug, warn -> warning, fatal -> critical.
 */
const util = require('util');

const LEVELS = { trace: 'debug', debug: 'debug', info: 'info', warn: 'warning', error: 'error', fatal: 'critical' };

function writeLog(level, message, requestId, fields) {
  const record = { ...fields, time: Math.round(Date.now()) / 1000, level, msg: message };
  if (requestId !== undefined && requestId !== null) record.id = requestId;
  let line;
  try {
    line = JSON.stringify(record, jsonSafe);
  } catch (err) { // fields that cannot be written (a cycle): the message still goes out
    line = JSON.stringify({ time: record.time, level, msg: message, id: record.id, fieldsLost: String(err) });
  }
  process.stderr.write(line + '\n');
}

/** JSON.stringify replacer for what JSON cannot hold: a BigInt becomes its digits. */
function jsonSafe(_key, value) {
  return typeof value === 'bigint' ? value.toString() : value;
}

function splitArguments(args) {
  const rest = [...args];
  let fields = {};
  if (rest[0] instanceof Error) {
    const err = rest.shift();
    fields = { err: { name: err.name, message: err.message, stack: err.stack } };
    if (!rest.length) rest.push(err.message);
  } else if (rest[0] !== null && typeof rest[0] === 'object') {
    fields = rest.shift();
  }
  return [util.format(...rest), fields];
}

class Logger {
  constructor(requestId, fields = {}) {
    for (const [name, level] of Object.entries(LEVELS)) {
      this[name] = (...args) => {
        const [message, extra] = splitArguments(args);
        writeLog(level, message, requestId, { ...fields, ...extra });
      };
    }
    this.child = (more) => new Logger(requestId, { ...fields, ...more });
  }
}

module.exports = { Logger, writeLog, jsonSafe };
