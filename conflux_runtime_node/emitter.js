'use strict';
/**
 * What `this` is inside a component's function: one per request, like sailor's TaskExec.
 *
 * `this.emit(event, payload)` returns a promise (sailor's emit is awaited), `this.logger` logs,
 * `this.getFlowVariables()` returns the flow's variables. Each emit becomes one protocol event;
 * after `end` further emits are dropped with a warning, because the platform has moved on.
 */
const { ComponentError } = require('./component');
const { Logger, writeLog, traceIds } = require('./logs');

const STACK_CHARS = 8000;

/** An error (or anything thrown) as the protocol's `{name, message, stack}`. */
function describeError(error) {
  if (error instanceof ComponentError) return { name: error.name, message: error.message };
  if (error instanceof Error || (error !== null && typeof error === 'object' && 'message' in error)) {
    const described = { name: String(error.name || 'Error'), message: String(error.message) };
    if (error.stack) described.stack = String(error.stack).slice(-STACK_CHARS);
    return described;
  }
  return { name: 'Error', message: error === undefined || error === null ? 'Not Available' : String(error) };
}

/** A JSON object: not null, not an array (what a message, a snapshot or the variables must be). */
function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function nonEmpty(value) {
  return isObject(value) && Object.keys(value).length > 0;
}

/**
 * An emitted message as the protocol's `msg`: elastic.io's message (`body`, `headers`,
 * `attachments`, `metadata`; its `id` is the platform's to set); a value without `body` is the body.
 */
function toMessage(value) {
  if (!isObject(value) || !('body' in value)) return { body: value === undefined ? null : value };
  const msg = { body: value.body === undefined ? null : value.body };
  for (const field of ['headers', 'attachments', 'metadata']) {
    if (nonEmpty(value[field])) msg[field] = value[field];
  }
  return msg;
}

class StepContext {
  constructor(requestId, send, variables, traceparent) {
    this.requestId = requestId;
    const trace = traceIds(traceparent);
    /** The request's trace (W3C traceparent) when the platform traces: pass it on as a header. */
    this.traceparent = trace.trace_id ? traceparent : null;
    this.logger = new Logger(requestId, trace);
    this.ended = false;
    this._send = send;
    this._variables = { ...(variables || {}) };
    this._whenEnded = new Promise((resolve) => { this._resolveEnded = resolve; });
    this.emit = this.emit.bind(this); // authors hand `this.emit` around as a callback
  }

  /** elastic.io's events: data, error, rebound, snapshot, updateSnapshot, updateKeys, httpReply, end. */
  async emit(name, payload) {
    const event = this._event(name, payload);
    if (event === null) return false;
    if (this.ended) {
      writeLog('warning', `'${name}' emitted after end was ignored`, this.requestId);
      return false;
    }
    if (name === 'end') {
      this.end();
    } else {
      this._send({ id: this.requestId, type: name, ...event });
    }
    return true;
  }

  /** The flow's variables (the request's `variables`), as on elastic.io. */
  getFlowVariables() {
    return this._variables;
  }

  /** Resolves once the request has ended. */
  whenEnded() {
    return this._whenEnded;
  }

  /** The answer of a service call (verifyCredentials, getMetaModel, selectModel). */
  result(value) {
    if (!this.ended) this._send({ id: this.requestId, type: 'result', result: value === undefined ? null : value });
  }

  end() {
    if (this.ended) return;
    this.ended = true;
    this._send({ id: this.requestId, type: 'end' });
    this._resolveEnded();
  }

  /** The protocol fields of one emit, or null (logged) for what the protocol cannot carry. */
  _event(name, payload) {
    switch (name) {
      case 'data':
        return { msg: toMessage(payload) };
      case 'error':
      case 'rebound':
        return { error: describeError(payload) };
      case 'snapshot':
      case 'updateSnapshot':
        if (isObject(payload)) return { snapshot: payload };
        writeLog('error', `'${name}' needs an object, not ${JSON.stringify(payload)}; ignored`, this.requestId);
        return null;
      case 'updateKeys':
        return { keys: isObject(payload) ? payload : {} };
      case 'httpReply': {
        const reply = isObject(payload) ? payload : {};
        return { reply: { statusCode: reply.statusCode ?? 200, body: reply.body ?? null, headers: reply.headers || {} } };
      }
      case 'end':
        return {};
      default:
        writeLog('warning', `unknown event '${name}' ignored (data, error, rebound, snapshot, updateSnapshot, `
          + 'updateKeys, httpReply, end)', this.requestId);
        return null;
    }
  }
}

module.exports = { StepContext, describeError, isObject, toMessage };
