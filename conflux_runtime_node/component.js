'use strict';
/**
 * Reads component.json and loads the modules its triggers and actions name, in elastic.io's
 * layout: `"main": "./lib/actions/send.js"`, a CommonJS module exporting `process` (and, as the
 * component needs them, `init`, `startup`, `shutdown`, `getMetaModel` and select-model functions).
 * Every module is loaded at start, so a broken one is reported before the first message; Node's
 * module cache keeps it, so state set up at module level lives as long as a warm container does.
 */
const fs = require('fs');
const path = require('path');

const DESCRIPTOR_FILE = 'component.json';
const VERIFIER_FILE = 'verifyCredentials.js';

/** The component itself is unusable (bad descriptor, missing module or function). */
class ComponentError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ComponentError';
  }
}

class Component {
  constructor(directory, descriptor) {
    this.directory = directory;
    this.descriptor = descriptor;
  }

  static load(directory) {
    const resolved = path.resolve(directory);
    const file = path.join(resolved, DESCRIPTOR_FILE);
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ComponentError(err.code === 'ENOENT'
        ? `${file} is missing: every component directory needs a ${DESCRIPTOR_FILE}`
        : `${file} cannot be read: ${err.message}`);
    }
    let descriptor;
    try {
      descriptor = JSON.parse(text);
    } catch (err) {
      throw new ComponentError(`${file} is not valid JSON: ${err.message}`);
    }
    if (descriptor === null || typeof descriptor !== 'object' || Array.isArray(descriptor)) {
      throw new ComponentError(`${file} must hold a JSON object`);
    }
    return new Component(resolved, descriptor);
  }

  get title() {
    return String(this.descriptor.title ?? path.basename(this.directory));
  }

  get version() {
    return String(this.descriptor.version ?? '0.0.0');
  }

  functionNames() {
    return [...Object.keys(this.descriptor.triggers || {}), ...Object.keys(this.descriptor.actions || {})];
  }

  /** The trigger or action called `name`. */
  functionSpec(name) {
    for (const section of ['triggers', 'actions']) {
      const spec = (this.descriptor[section] || {})[name];
      if (spec !== undefined && spec !== null) return spec;
    }
    const known = [...new Set(this.functionNames())].sort();
    throw new ComponentError(`component '${this.title}' has no trigger or action '${name}' `
      + `(it has: ${known.join(', ') || 'none'})`);
  }

  /** The module implementing trigger or action `name`. */
  module(name) {
    const main = this.functionSpec(name).main;
    if (typeof main !== 'string' || !main) {
      throw new ComponentError(`'${name}' in ${DESCRIPTOR_FILE} has no 'main' (the module implementing it)`);
    }
    return this._require(main);
  }

  /** Load every trigger's and action's module now, so a broken one is reported at start. */
  requireAll() {
    for (const name of this.functionNames()) this.module(name);
  }

  /**
   * The credential check: `credentials.verifier` in component.json, else verifyCredentials.js at the
   * component's root (elastic.io's convention), else none. The module exports the function itself
   * or as `verify`.
   */
  verifier() {
    const named = (this.descriptor.credentials || {}).verifier;
    if (!named && !fs.existsSync(path.join(this.directory, VERIFIER_FILE))) return null;
    const module = this._require(named || VERIFIER_FILE);
    const verify = typeof module === 'function' ? module : module.verify;
    if (typeof verify !== 'function') {
      throw new ComponentError(`${named || VERIFIER_FILE} exports no function (export the check itself, or as 'verify')`);
    }
    return verify;
  }

  _require(relative) {
    let file;
    try {
      file = require.resolve(path.resolve(this.directory, relative));
    } catch {
      throw new ComponentError(`module ${relative} not found in the component directory`);
    }
    try {
      return require(file);
    } catch (err) {
      const name = (err && err.name) || 'Error';
      const hint = err && err.code === 'MODULE_NOT_FOUND' && fs.existsSync(path.join(this.directory, 'package.json'))
        ? ' (are its npm dependencies installed? the image build installs them; for the process runner run '
          + '`npm install` in the component folder)'
        : '';
      const message = String(err && err.message).split('\n')[0]; // not the require stack
      throw new ComponentError(`loading ${relative} failed: ${name}: ${message}${hint}`);
    }
  }
}

module.exports = { Component, ComponentError, DESCRIPTOR_FILE };
