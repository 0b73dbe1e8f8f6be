'use strict';
/**
 * JSON lines on the protocol channel.
 *
 * The runtime keeps the process's stdout stream for protocol events only: everything else that
 * writes to it (console.log, process.stdout.write in a component or a library) is sent to stderr,
 * so stray output cannot corrupt the protocol stream. (A child process started with inherited
 * stdio still shares fd 1: a component that spawns one should pipe its output.)
 *
 * Events are written in bursts, as the Python runtime does: what was sent goes out before the
 * runtime waits for more input, and at most FLUSH_MS after it was sent while step code goes on
 * working (a timer; it fires whenever the step awaits I/O). Events are written to fd 1 directly and
 * synchronously, to the last byte: a stream's write of a large burst may still be queued when the
 * process exits (at EOF, or when step code calls process.exit), and that event would be cut.
 */
const fs = require('fs');
const { jsonSafe } = require('./logs');

const FLUSH_MS = 20;
const NEWLINE = 0x0a;
const EVENTS_FD = 1;
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

  static takeOverStdio() {
    process.stdout.write = process.stderr.write.bind(process.stderr);
    return new Transport((text) => writeAll(EVENTS_FD, text), process.stdin);
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

module.exports = { Transport, FLUSH_MS };
