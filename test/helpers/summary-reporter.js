// Prints the run's totals as one plain closing line, "N passed, N failed"
// (", N skipped" when any were), which CI reads whatever the test runner.
// It is written as the process exits, so that it comes after Jest's own summary.
const fs = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`;
    process.once('exit', () => fs.writeSync(process.stdout.fd, line));
  }
}

module.exports = SummaryReporter;
