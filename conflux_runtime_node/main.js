'use strict';
/**
 * Conflux's in-container runtime for Node.js components written for elastic.io (standard library
 * only): `sh -c 'exec node main.js [COMPONENT_DIR] 3>&1 1>&2'` (default $CONFLUX_COMPONENT_DIR or
 * /component): events on fd 3, fd 1 pointed at stderr (transport.js says why).
 *
 * It speaks the same step protocol as the Python runtime (docs/step-protocol.md): announces itself
 * with a `ready` event, serves requests from stdin strictly in order, exits 0 at EOF after the
 * shutdown hooks. A component that cannot be loaded is reported with a `fatal` event and exit code 2.
 */
const { Component, ComponentError } = require('./component');
const { describeError } = require('./emitter');
const { Executor } = require('./executor');
const { writeLog } = require('./logs');
const { EVENTS_FD, Transport } = require('./transport');

const PROTOCOL_VERSION = 1;
const RUNTIME_VERSION = '0.1.0';

async function main(argv) {
  const transport = Transport.onEventsFd();
  if (transport === null) {
    writeLog('error', `the runtime writes its events to fd ${EVENTS_FD}, which this process was not given: start it as `
      + `sh -c 'exec node ${__filename} COMPONENT_DIR ${EVENTS_FD}>&1 1>&2'`);
    return 2;
  }
  const directory = argv[2] || process.env.CONFLUX_COMPONENT_DIR || '/component';
  let component;
  try {
    component = Component.load(directory);
    component.requireAll();
  } catch (err) {
    const problem = err instanceof ComponentError ? err : new ComponentError(String(err && err.message));
    transport.send({ type: 'fatal', error: describeError(problem) });
    transport.flush();
    writeLog('error', problem.message);
    return 2;
  }
  transport.send({
    type: 'ready',
    protocol: PROTOCOL_VERSION,
    runtime: RUNTIME_VERSION,
    component: { title: component.title, version: component.version },
  });
  const executor = new Executor(component, transport);
  process.on('uncaughtException', (err) => executor.failCurrent(err));
  process.on('unhandledRejection', (reason) => executor.failCurrent(reason));
  process.on('exit', (code) => executor.exiting(code));
  for await (const request of transport.requests()) {
    if (request instanceof Error) {
      executor.reject(request);
    } else {
      await executor.handle(request);
    }
  }
  await executor.shutdown();
  transport.flush();
  return 0;
}

if (require.main === module) {
  main(process.argv).then((code) => process.exit(code));
}

module.exports = { PROTOCOL_VERSION, RUNTIME_VERSION };
