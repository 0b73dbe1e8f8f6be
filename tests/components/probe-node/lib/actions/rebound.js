exports.process = function processAction() {
  this.emit('rebound', new Error('target is down'));
  this.emit('end');
};
