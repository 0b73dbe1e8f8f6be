'use strict';
/**
 * JSON lines on the protocol channel.
 *
 * Events go to fd 3, which only the runtime writes, and fd 1 is stderr: the runtime is started as
 * `sh -c 'exec node main.js DIR 3>&1 1>&2'` (components/Dockerfile.node, steps/process_channel.py),
 * because Node.js cannot dup2 the process's stdout away itself. So nothing else that writes to fd 1
 * (console.log, fs.writeSync(1), pino's default destination, a child process inheriting stdio, a
 * native addon) can corrupt the protocol stream: it all reaches the platform as logs.
 *
 * Events are written in bursts, as the Python runtime does: what was sent goes out before the
 * runtime waits for more input, and at most FLUSH_MS after it was sent while step code goes on
 * working (a timer; it fires whenever the step awaits I/O). Events are written to fd 3 directly and
 * synchronously, to the last byte: a stream's write of a large burst may still be queued when the
 * process exits (at EOF, or when step code calls process.exit), and that event would be cut.
 */
const fs = require('fs');
const { jsonSafe } = require('./logs');

const FLUSH_MS = 20;
const NEWLINE = 0x0a;
const EVENTS_FD = 3;
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** Write all of `text` to `fd`, waiting a millisecond whenever the reader is behind (a full pipe). */
function writeAll(fd, text) {
  let buffer = Buffer.from(text, 'utf8');
  while (buffer.length) {
    try {
      buffer = buffer.subarray(fs.writeSync(fd, buffer));
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
      Atomics.wait(PAUSE, 0, 0, 1);
    }
  }
}

class Transport {
  constructor(writeEvents, input) {
    this._write = writeEvents;
    this._input = input;
    this._pending = [];
    this._timer = null;
  }

  /** The transport on stdin and fd 3; null when fd 3 is not an events channel (started without the shell). */
  static onEventsFd() {
    return hasEventsFd() ? new Transport((text) => writeAll(EVENTS_FD, text), process.stdin) : null;
  }

  send(event) {
    this._pending.push(JSON.stringify(event, jsonSafe) + '\n');
    if (this._timer === null) {
      this._timer = setTimeout(() => this.flush(), FLUSH_MS);
    }
  }

  flush() {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    if (this._pending.length) {
      const data = this._pending.join('');
      this._pending = [];
      this._write(data);
    }
  }

  /**
   * Each request line parsed, in order (a line that is not a JSON object yields an Error); what was
   * sent goes out before each wait for input, and at the end.
   */
  async *requests() {
    const lines = [];
    let partial = [];
    let ended = false;
    let wake = null;
    const wakeUp = () => {
      if (wake) {
        wake();
        wake = null;
      }
    };
    this._input.on('data', (chunk) => {
      let start = 0;
      let end;
      while ((end = chunk.indexOf(NEWLINE, start)) !== -1) {
        partial.push(chunk.subarray(start, end));
        lines.push(Buffer.concat(partial));
        partial = [];
        start = end + 1;
      }
      if (start < chunk.length) partial.push(chunk.subarray(start));
      wakeUp();
    });
    this._input.on('end', () => {
      if (partial.length) lines.push(Buffer.concat(partial));
      partial = [];
      ended = true;
      wakeUp();
    });
    for (;;) {
      if (lines.length) {
        const parsed = parseRequest(lines.shift().toString('utf8'));
        if (parsed !== null) yield parsed;
        continue;
      }
      if (ended) break;
      this.flush();
      await new Promise((resolve) => { wake = resolve; });
    }
    this.flush();
  }
}

/**
 * Whether fd 3 is what the launch gave: a pipe, socket, file or terminal. Without the launch's
 * `3>&1`, fd 3 is none of these but Node's own event loop (an anonymous inode), or nothing.
 */
function hasEventsFd() {
  try {
    const stat = fs.fstatSync(EVENTS_FD);
    return stat.isFIFO() || stat.isSocket() || stat.isFile() || stat.isCharacterDevice();
  } catch (err) {
    return false;
  }
}

function parseRequest(text) {
  if (!text.trim()) return null;
  let request;
  try {
    request = JSON.parse(text);
  } catch (err) {
    return new Error(`request line is not JSON: ${err.message}`);
  }
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    return new Error('request line is not a JSON object');
  }
  return request;
}

module.exports = { Transport, FLUSH_MS, EVENTS_FD };
