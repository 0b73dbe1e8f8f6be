exports.process = function processAction() {
  setInterval(() => {}, 60000);
};
