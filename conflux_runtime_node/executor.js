'use strict';
/**
 * Runs one request against the component and guarantees it ends.
 *
 * `process(msg, cfg, snapshot)` is called with the request's StepContext as `this`, as sailor
 * does. A truthy return value (a promise: every async function) is awaited, its value emitted as
 * `data` when there is one, then `end`; a function that returns nothing ends when it emits `end`
 * itself (callback style; the platform's step timeout catches one that never does). A throw or a
 * rejection is `error` then `end`; so is an exception thrown later from the step's callbacks (it
 * fails the request being served when it is thrown: Node cannot tell which request's callback it was).
 *
 * The hooks run around the container's life, which is the step's life on Conflux: `startup(cfg)`
 * and then `init(cfg)` before a function's first message (the configuration arrives with it), and
 * `shutdown(cfg, startupResult)` when the platform closes stdin (at most SHUTDOWN_MS).
 */
const { ComponentError } = require('./component');
const { StepContext, describeError, isObject } = require('./emitter');
const { writeLog } = require('./logs');

const SHUTDOWN_MS = 60000;

class Executor {
  constructor(component, transport) {
    this.component = component;
    this.transport = transport;
    this.current = null;
    this._cfg = new Map();
    this._snapshots = new Map();
    this._started = new Map(); // function -> {startupData, initialized}
  }

  async handle(request) {
    const requestId = request.id === undefined || request.id === null ? '' : String(request.id);
    const variables = isObject(request.variables) ? request.variables : {};
    const context = new StepContext(requestId, this._track(request), variables, request.traceparent);
    this.current = context;
    try {
      await this._dispatch(request, context);
    } catch (err) { // the author's failure becomes this message's error, never a crash
      await context.emit('error', err);
    } finally {
      context.end();
      this.current = null;
    }
  }

  /** A request line that could not be read: answered with an error event with no id. */
  reject(problem) {
    this.transport.send({ id: null, type: 'error', error: describeError(problem) });
    this.transport.send({ id: null, type: 'end' });
  }

  /** An exception no request caught (a callback that threw later): the request being served fails. */
  failCurrent(err) {
    if (this.current && !this.current.ended) {
      this.current.emit('error', err);
      this.current.end();
    } else {
      writeLog('error', `uncaught outside any request: ${describeError(err).message}`, null,
        { stack: err && err.stack });
    }
  }

  /** Step code ended the process: the request it served failed, and what it emitted still goes out. */
  exiting(code) {
    if (this.current && !this.current.ended) {
      this.current.emit('error', new ComponentError(`the step called process.exit(${code}); a step ends by `
        + 'returning or emitting end, and its process keeps serving'));
      this.current.end();
    }
    this.transport.flush();
  }

  /** Run every started function's `shutdown(cfg, startupResult)`; failures are logged. */
  async shutdown() {
    for (const [name, started] of this._started) {
      const module = this.component.module(name);
      if (typeof module.shutdown !== 'function') continue;
      let timer;
      const limit = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`shutdown of '${name}' took over ${SHUTDOWN_MS / 1000} s`)), SHUTDOWN_MS);
      });
      try {
        await Promise.race([Promise.resolve().then(() => module.shutdown(this._config(name), started.startupData)), limit]);
      } catch (err) {
        writeLog('error', `shutdown hook of '${name}' failed: ${describeError(err).message}`);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /**
   * Keep this process's copy of the step's snapshot in step with what the platform keeps:
   * snapshot changes count only when the request ends without error or rebound.
   */
  _track(request) {
    const name = String(request.function ?? '');
    const changes = [];
    let failed = false;
    return (event) => {
      if (event.type === 'snapshot' || event.type === 'updateSnapshot') {
        changes.push(event);
      } else if (event.type === 'error' || event.type === 'rebound') {
        failed = true;
      } else if (event.type === 'end' && !failed) {
        for (const change of changes) {
          const base = change.type === 'snapshot' ? {} : this._snapshots.get(name) || {};
          this._snapshots.set(name, { ...base, ...change.snapshot });
        }
      }
      this.transport.send(event);
    };
  }

  async _dispatch(request, context) {
    const kind = request.type;
    if ('cfg' in request) this._cfg.set(String(request.function ?? ''), { ...(request.cfg || {}) });
    const cfg = this._config(request.function);
    if (kind === 'process') {
      await this._process(request, context, cfg);
    } else if (kind === 'verifyCredentials') {
      context.result(await this._verify(context, cfg));
    } else if (kind === 'getMetaModel') {
      const name = requireFunction(request.function);
      const module = this.component.module(name);
      context.result(typeof module.getMetaModel === 'function'
        ? await callWithCallback(module.getMetaModel, context, [cfg])
        : this.component.functionSpec(name).metadata || {});
    } else if (kind === 'selectModel') {
      const name = requireFunction(request.function);
      const model = this.component.module(name)[request.method];
      if (typeof model !== 'function') {
        throw new ComponentError(`'${name}' has no select-model function '${request.method}'`);
      }
      context.result(await callWithCallback(model, context, [cfg]));
    } else {
      throw new ComponentError(`unknown request type ${JSON.stringify(kind)} `
        + '(expected process, verifyCredentials, getMetaModel, selectModel)');
    }
  }

  async _process(request, context, cfg) {
    const name = requireFunction(request.function);
    if ('snapshot' in request) this._snapshots.set(name, { ...(request.snapshot || {}) });
    if (!this._snapshots.has(name)) this._snapshots.set(name, {});
    const msg = request.msg;
    if (!isObject(msg)) {
      throw new ComponentError("a process request needs 'msg' (an object)");
    }
    const module = this.component.module(name);
    if (typeof module.process !== 'function') {
      throw new ComponentError(`${this.component.functionSpec(name).main} exports no 'process' function`);
    }
    await this._runHooks(name, module, cfg);
    // copies, as sailor hands them: what the step changes in them stays with this message
    const returned = module.process.call(context, elasticMessage(msg), structuredClone(cfg),
      structuredClone(this._snapshots.get(name)));
    if (!returned) {
      await context.whenEnded();
      return;
    }
    const finished = Promise.resolve(returned).then(
      async (value) => {
        if (value) await context.emit('data', value);
        context.end();
      },
      async (err) => {
        await context.emit('error', err);
        context.end();
      },
    );
    await Promise.race([context.whenEnded(), finished]);
  }

  async _runHooks(name, module, cfg) {
    let started = this._started.get(name);
    if (!started) {
      const startupData = typeof module.startup === 'function' ? await module.startup(cfg) : undefined;
      started = { startupData, initialized: false };
      this._started.set(name, started);
    }
    if (!started.initialized) {
      if (typeof module.init === 'function') await module.init(cfg);
      started.initialized = true;
    }
  }

  async _verify(context, cfg) {
    const verify = this.component.verifier();
    if (!verify) return { verified: true };
    let answer;
    try {
      answer = await callWithCallback(verify, context, [cfg]);
    } catch (err) {
      return { verified: false, reason: describeError(err).message };
    }
    if (answer !== null && typeof answer === 'object' && 'verified' in answer) return answer;
    return { verified: answer !== false };
  }

  _config(name) {
    return this._cfg.get(String(name ?? '')) || {};
  }
}

/** elastic.io's service-call convention: the answer is a callback's `(err, value)` or a returned promise. */
function callWithCallback(fn, thisArg, args) {
  return new Promise((resolve, reject) => {
    const callback = (err, value) => (err ? reject(err) : resolve(value));
    const returned = fn.call(thisArg, ...args, callback);
    if (returned !== undefined) Promise.resolve(returned).then(resolve, reject);
  });
}

/**
 * The message as elastic.io's components read it: `passthrough` holds each earlier step's
 * message `{body, headers, stepId}` (the protocol carries bodies, and `passthroughHeaders` apart).
 */
function elasticMessage(msg) {
  const { passthroughHeaders, ...rest } = msg;
  const headersByStep = passthroughHeaders || {};
  const passthrough = {};
  for (const [stepId, body] of Object.entries(msg.passthrough || {})) {
    passthrough[stepId] = { body, headers: headersByStep[stepId] || {}, stepId };
  }
  return {
    ...rest,
    id: rest.id ?? null,
    body: rest.body ?? {},
    headers: rest.headers || {},
    attachments: rest.attachments || {},
    metadata: rest.metadata || {},
    passthrough,
  };
}

function requireFunction(name) {
  if (typeof name !== 'string' || !name) {
    throw new ComponentError("the request names no 'function' (a trigger or action of the component)");
  }
  return name;
}

module.exports = { Executor, elasticMessage };
