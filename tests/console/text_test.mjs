// The console's text helpers in Node (no browser): CSV quoting, the plan
// diff, and the note on a fleet listing that lacks a collector. Usage: node text_test.mjs SOURCE_DIR
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';

const { csvLine, diffLines, unansweredText } = await import(
  pathToFileURL(`${process.argv[2]}/collector/console/web/text.js`).href);

assert.equal(csvLine(['a', 1, null, undefined]), 'a,1,,');
assert.equal(csvLine(['x,y', 'say "no"', 'two\nlines']), '"x,y","say ""no""","two\nlines"');

const before = 'objectives:\n  - id: acc\n    threshold: 0.6\n  - id: drift';
const after = 'objectives:\n  - id: acc\n    threshold: 0.7\n  - id: drift\n  - id: parity';
assert.deepEqual(diffLines(before, after), [
  [' ', 'objectives:'], [' ', '  - id: acc'], ['-', '    threshold: 0.6'],
  ['+', '    threshold: 0.7'], [' ', '  - id: drift'], ['+', '  - id: parity']]);
assert.deepEqual(diffLines('same', 'same'), [[' ', 'same']]);
assert.equal(unansweredText({ models: [] }, null), '');
assert.equal(unansweredText({ unanswered_collectors: ['10.0.0.3:4317'] },
  { unanswered_collectors: ['10.0.0.3:4317'] }),
'Collector 10.0.0.3:4317 did not answer: this page lacks the entries it holds.');
console.log('text helpers ok');
