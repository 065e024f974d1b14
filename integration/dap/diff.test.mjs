// Differential: one scripted session against `dlv dap` and `goscope dap` on the same binary;
// every response and event is compared after normalisation (message numbering, process and
// thread ids, the other goroutines' list, which differs run to run). Expected differences:
// only goscope's documented beyond-1.20.2 behaviour (docs/dap.md): `exited` before
// `terminated`, numbered `seq`, exceptionInfo's breakMode, the supportsDataBreakpoints and
// supportsRestartRequest capabilities, and function tracing (supportsGoFunctionTracing,
// `dlv trace` and `dlv untrace` in `dlv help`'s list).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { progDir, progFile, tmpdir, buildProg } from './harness.mjs';

const goscope = process.env.GOSCOPE_DAP_SERVER;
let haveDlv = true;
try {
  execFileSync('dlv', ['version'], { stdio: 'ignore' });
} catch {
  haveDlv = false;
}
if (!goscope || !haveDlv) {
  console.log('SKIP: needs GOSCOPE_DAP_SERVER and dlv on PATH');
  process.exit(77);
}

function startServer(bin) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['dap', '--listen=127.0.0.1:0'], { cwd: progDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /DAP server listening at: 127\.0\.0\.1:(\d+)\n/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on('error', reject);
  });
}

// Sends requests one at a time; after each, collects messages until its response has come
// and, for requests that resume the target, until the next stopped/terminated event.
async function runScript(bin, script) {
  const { proc, port } = await startServer(bin);
  const sock = net.createConnection(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let buf = Buffer.alloc(0);
  const inbox = [];
  let wake = null;
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const idx = buf.indexOf('\r\n\r\n');
      if (idx < 0) break;
      const n = Number(/Content-Length: (\d+)/.exec(buf.subarray(0, idx).toString())[1]);
      if (buf.length < idx + 4 + n) break;
      inbox.push(JSON.parse(buf.subarray(idx + 4, idx + 4 + n).toString()));
      buf = buf.subarray(idx + 4 + n);
    }
    if (wake) wake();
  });
  const transcript = [];
  const waitFor = async (pred) => {
    const deadline = Date.now() + 60000;
    for (;;) {
      const i = inbox.findIndex(pred);
      if (i >= 0) {
        const got = inbox.splice(0, i + 1);
        transcript.push(...got);
        return got[got.length - 1];
      }
      if (Date.now() > deadline) throw new Error(`${bin}: timeout; got ${JSON.stringify(transcript.slice(-3))}`);
      await new Promise((r) => { wake = r; setTimeout(r, 50); });
      wake = null;
    }
  };
  let seq = 0;
  for (const step of script) {
    const args = typeof step.args === 'function' ? step.args(transcript) : step.args;
    const req = { seq: ++seq, type: 'request', command: step.command };
    if (args) req.arguments = args;
    const body = JSON.stringify(req);
    sock.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await waitFor((m) => m.type === 'response' && m.request_seq === req.seq);
    if (step.until) await waitFor((m) => m.type === 'event' && step.until.includes(m.event));
  }
  await new Promise((r) => proc.on('exit', r));
  transcript.push(...inbox.splice(0));
  return transcript;
}

function normalise(msgs) {
  return msgs
    .filter((m) => !(m.type === 'event' && m.event === 'exited'))
    .map((m) => {
      const c = structuredClone(m);
      delete c.seq;
      if (c.command === 'threads' && c.body) {
        // Only the selected goroutine is stable between two runs of a program.
        c.body.threads = c.body.threads.filter((t) => t.name.startsWith('* ') || t.id < 0 || t.name === 'Dummy');
      }
      if (c.command === 'exceptionInfo' && c.body) delete c.body.breakMode;
      // Beyond 1.20.2 (Delve 1.26.2 has them): data breakpoints, where watchpoints fire.
      if (c.command === 'initialize' && c.body) {
        delete c.body.supportsDataBreakpoints;
        delete c.body.supportsRestartRequest; // restart: Delve 1.25.1's
        delete c.body.supportsGoFunctionTracing; // goscope's function tracing
      }
      if (c.command === 'evaluate' && c.body && typeof c.body.result === 'string') {
        c.body.result = c.body.result.replace(/^ {4}dlv (trace|untrace) \t [^\n]*\n/gm, '');
      }
      return JSON.parse(JSON.stringify(c)
        .replace(/\(Thread \d+\)/g, '(Thread T)')
        .replace(/Process \d+ has exited/g, 'Process P has exited'));
    });
}

const lastStopFrame = (t) => {
  const st = [...t].reverse().find((m) => m.command === 'stackTrace' && m.success);
  return st.body.stackFrames[0].id;
};

test('breakpoints, stepping, variables, evaluate, panic: goscope answers as dlv', async () => {
  const bin = buildProg(tmpdir());
  const script = [
    { command: 'initialize', args: { clientID: 'vscode', adapterID: 'go', pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true, supportsVariableType: true, supportsVariablePaging: true } },
    { command: 'launch', args: { mode: 'exec', program: bin, args: ['panic'] } },
    { command: 'setBreakpoints', args: { source: { path: progFile }, breakpoints: [{ line: 16, condition: 'b == 2' }, { line: 40 }] } },
    { command: 'setFunctionBreakpoints', args: { breakpoints: [{ name: 'main.explode' }] } },
    { command: 'setExceptionBreakpoints', args: { filters: [] } },
    { command: 'configurationDone', until: ['stopped'] },
    { command: 'threads' },
    { command: 'stackTrace', args: { threadId: 1, startFrame: 0, levels: 1 } },
    { command: 'stackTrace', args: { threadId: 1, startFrame: 1, levels: 20 } },
    { command: 'scopes', args: { frameId: 1000 } },
    { command: 'variables', args: { variablesReference: 1000 } },
    { command: 'evaluate', args: { expression: 'a*100 + b', frameId: 1000, context: 'watch' } },
    { command: 'evaluate', args: { expression: 'nosuch', frameId: 1000, context: 'repl' } },
    { command: 'next', args: { threadId: 1 }, until: ['stopped'] },
    { command: 'stackTrace', args: { threadId: 1, startFrame: 0, levels: 20 } },
    { command: 'stepOut', args: { threadId: 1 }, until: ['stopped'] },
    { command: 'stackTrace', args: { threadId: 1, startFrame: 0, levels: 20 } },
    { command: 'continue', args: { threadId: 1 }, until: ['stopped'] },
    { command: 'stackTrace', args: { threadId: 1, startFrame: 0, levels: 20 } },
    { command: 'scopes', args: (t) => ({ frameId: lastStopFrame(t) }) },
    { command: 'variables', args: (t) => ({ variablesReference: [...t].reverse().find((m) => m.command === 'scopes').body.scopes[0].variablesReference }) },
    { command: 'variables', args: (t) => ({ variablesReference: [...t].reverse().find((m) => m.command === 'variables').body.variables.find((v) => v.name === 'pp').variablesReference }) },
    { command: 'evaluate', args: (t) => ({ expression: 'm', frameId: lastStopFrame(t), context: 'hover' }) },
    { command: 'variables', args: (t) => ({ variablesReference: [...t].reverse().find((m) => m.command === 'evaluate').body.variablesReference }) },
    { command: 'continue', args: { threadId: 1 }, until: ['stopped'] },
    { command: 'exceptionInfo', args: { threadId: 1 } },
    { command: 'continue', args: { threadId: 1 }, until: ['stopped'] },
    { command: 'exceptionInfo', args: { threadId: 1 } },
    { command: 'stackTrace', args: { threadId: 1, startFrame: 0, levels: 3 } },
    { command: 'continue', args: { threadId: 1 }, until: ['terminated'] },
    { command: 'disconnect', args: {}, until: ['terminated'] },
  ];
  const want = normalise(await runScript('dlv', script));
  const got = normalise(await runScript(goscope, script));
  if (process.env.DAP_DIFF_VERBOSE) console.log(JSON.stringify(got, null, 1));
  assert.ok(want.length > script.length, 'the responses and the events of the whole session');
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    assert.deepEqual(got[i], want[i], `message ${i} differs`);
  }
});

// Register values differ from run to run (stack addresses, scratch registers): names,
// evaluateNames, types and the shape of each value are compared, not the numbers.
function normaliseRegisters(msgs) {
  return msgs.map((m) => {
    if (m.command !== 'variables' || !m.body || !m.body.variables.some((v) => /^_R[A-Z0-9]+$/.test(v.evaluateName || ''))) return m;
    const c = structuredClone(m);
    for (const v of c.body.variables) v.value = v.value.replace(/0x[0-9a-f]+/g, '0xN').replace(/=\d+/g, '=N');
    return c;
  });
}

const frameIp = (t, i) => {
  const st = [...t].reverse().find((m) => m.command === 'stackTrace' && m.success);
  return st.body.stackFrames[i].instructionPointerReference;
};

test('registers scope, disassemble, instruction breakpoints: goscope answers as dlv', async () => {
  const bin = buildProg(tmpdir());
  const script = [
    { command: 'initialize', args: { clientID: 'vscode', adapterID: 'go', pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true, supportsVariableType: true, supportsVariablePaging: true } },
    { command: 'launch', args: { mode: 'exec', program: bin, showRegisters: true } },
    { command: 'setBreakpoints', args: { source: { path: progFile }, breakpoints: [{ line: 16 }] } },
    { command: 'configurationDone', until: ['stopped'] },
    { command: 'stackTrace', args: { threadId: 1, startFrame: 0, levels: 2 } },
    { command: 'scopes', args: { frameId: 1000 } },
    { command: 'variables', args: (t) => ({ variablesReference: [...t].reverse().find((m) => m.command === 'scopes').body.scopes.find((s) => s.name === 'Registers').variablesReference }) },
    { command: 'evaluate', args: { expression: '_RIP', frameId: 1000, context: 'watch' } },
    { command: 'disassemble', args: (t) => ({ memoryReference: frameIp(t, 0), instructionOffset: -4, instructionCount: 12, resolveSymbols: true }) },
    { command: 'disassemble', args: (t) => ({ memoryReference: frameIp(t, 0), instructionOffset: 0, instructionCount: 3 }) },
    { command: 'disassemble', args: { memoryReference: '0x0', instructionOffset: 0, instructionCount: 2 } },
    { command: 'disassemble', args: { memoryReference: 'main.add', instructionOffset: 0, instructionCount: 2 } },
    { command: 'setInstructionBreakpoints', args: (t) => ({ breakpoints: [{ instructionReference: frameIp(t, 1) }, { instructionReference: 'nowhere' }] }) },
    { command: 'setBreakpoints', args: { source: { path: progFile }, breakpoints: [] } },
    { command: 'continue', args: { threadId: 1 }, until: ['stopped'] },
    { command: 'stackTrace', args: { threadId: 1, startFrame: 0, levels: 1 } },
    { command: 'setInstructionBreakpoints', args: { breakpoints: [] } },
    { command: 'continue', args: { threadId: 1 }, until: ['terminated'] },
    { command: 'disconnect', args: {}, until: ['terminated'] },
  ];
  const want = normaliseRegisters(normalise(await runScript('dlv', script)));
  const got = normaliseRegisters(normalise(await runScript(goscope, script)));
  if (process.env.DAP_DIFF_DUMP) {
    fs.writeFileSync(`${process.env.DAP_DIFF_DUMP}/want.json`, JSON.stringify(want, null, 1));
    fs.writeFileSync(`${process.env.DAP_DIFF_DUMP}/got.json`, JSON.stringify(got, null, 1));
  }
  assert.ok(want.length > script.length, 'the responses and the events of the whole session');
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    assert.deepEqual(got[i], want[i], `message ${i} differs`);
  }
});

test('substitutePath, goroutine filters, dlv console commands, call: goscope answers as dlv', async () => {
  const bin = buildProg(tmpdir());
  // The client sees the sources under /client/src; the debugger under the real directory.
  const clientDir = '/client/src';
  const clientFile = path.join(clientDir, path.basename(progFile));
  const script = [
    { command: 'initialize', args: { clientID: 'vscode', adapterID: 'go', pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true, supportsVariableType: true, supportsVariablePaging: true } },
    { command: 'launch', args: { mode: 'exec', program: bin, substitutePath: [{ from: clientDir, to: progDir }], hideSystemGoroutines: true, goroutineFilters: '-with user' } },
    { command: 'setBreakpoints', args: { source: { path: clientFile }, breakpoints: [{ line: 16, condition: 'a == 3' }] } },
    { command: 'configurationDone', until: ['stopped'] },
    { command: 'threads' },
    { command: 'stackTrace', args: { threadId: 1, startFrame: 0, levels: 3 } },
    { command: 'evaluate', args: { expression: 'dlv help', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv help config', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv h nosuch', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv config -list', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv config -list goroutineFilters', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv config hideSystemGoroutines false', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv config stackTraceDepth 20', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv config stackTraceDepth x', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv config goroutineFilters "-with running"', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv config substitutePath /x /y', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv config substitutePath /x', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv config substitutePath /nope', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv config nosuch 1', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv nosuch', frameId: 1000, context: 'hover' } },
    { command: 'evaluate', args: { expression: 'dlv sources dap/prog/main', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'dlv config -list', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'call add(2, 3)', frameId: 1000, context: 'repl' } },
    { command: 'variables', args: (t) => ({ variablesReference: [...t].reverse().find((m) => m.command === 'evaluate').body.variablesReference }) },
    { command: 'evaluate', args: { expression: 'call nosuch()', frameId: 1000, context: 'repl' } },
    { command: 'evaluate', args: { expression: 'call add(1, 1)', frameId: 1001, context: 'repl' } },
    { command: 'setBreakpoints', args: { source: { path: clientFile }, breakpoints: [] } },
    { command: 'continue', args: { threadId: 1 }, until: ['terminated'] },
    { command: 'disconnect', args: {}, until: ['terminated'] },
  ];
  const want = normalise(await runScript('dlv', script));
  const got = normalise(await runScript(goscope, script));
  if (process.env.DAP_DIFF_DUMP) {
    fs.writeFileSync(`${process.env.DAP_DIFF_DUMP}/want3.json`, JSON.stringify(want, null, 1));
    fs.writeFileSync(`${process.env.DAP_DIFF_DUMP}/got3.json`, JSON.stringify(got, null, 1));
  }
  assert.ok(want.length > script.length, 'the responses and the events of the whole session');
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    assert.deepEqual(got[i], want[i], `message ${i} differs`);
  }
});
