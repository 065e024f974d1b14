// Whole DAP sessions against `goscope dap`, through @vscode/debugadapter-testsupport (the
// client VS Code's own adapters are tested with). Run: GOSCOPE_DAP_SERVER=build/bin/goscope
// node --test integration/dap/session.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import {
  haveClient, connect, initArgs, progDir, progFile, tmpdir, buildProg, nextStop, waitEvent,
  finish, server,
} from './harness.mjs';

if (!haveClient) {
  console.log('SKIP: @vscode/debugadapter-testsupport is not installed (npm ci in integration/dap; scripts/install-deps.sh does it)');
  process.exit(77);
}
const skip = false;
// dlv 1.20.2 sends no `exited` event (newer Delve and goscope do): the rest is the same.
const expectExited = !/(^|\/)dlv$/.test(server);

async function waitExit(ctx, code) {
  if (expectExited) {
    const exited = await waitEvent(ctx, (e) => e.event === 'exited', 'exited');
    assert.equal(exited.body.exitCode, code);
    const terminated = await waitEvent(ctx, (e) => e.event === 'terminated', 'terminated');
    assert.ok(exited.at < terminated.at, 'exited precedes terminated');
  } else {
    await waitEvent(ctx, (e) => e.event === 'terminated', 'terminated');
  }
}

async function launch(ctx, args, breakpoints = {}) {
  const init = await ctx.dc.initializeRequest(initArgs);
  assert.equal(init.body.supportsConfigurationDoneRequest, true);
  const launched = await ctx.dc.launchRequest(args);
  assert.equal(launched.success, true);
  const initialized = await waitEvent(ctx, (e) => e.event === 'initialized', 'initialized');
  // dlv's order: `initialized` before the launch response.
  assert.ok(initialized.at < launched.at, 'initialized precedes the launch response');
  const results = {};
  for (const [file, bps] of Object.entries(breakpoints)) {
    const r = await ctx.dc.setBreakpointsRequest({ source: { path: file }, breakpoints: bps });
    results[file] = r.body.breakpoints;
  }
  await ctx.dc.setExceptionBreakpointsRequest({ filters: [] });
  return results;
}

async function locals(dc, frameId) {
  const scopes = await dc.scopesRequest({ frameId });
  assert.equal(scopes.body.scopes[0].name, 'Locals');
  const vars = await dc.variablesRequest({ variablesReference: scopes.body.scopes[0].variablesReference });
  return Object.fromEntries(vars.body.variables.map((v) => [v.name, v]));
}

test('debug mode: breakpoint, threads, stack, variables, stepping, evaluate, exit', { skip }, async () => {
  const ctx = await connect();
  const { dc } = ctx;
  const out = path.join(tmpdir(), 'debug_bin');
  const seen = new Set();
  try {
    const bps = await launch(ctx, { mode: 'debug', program: progDir, output: out },
      { [progFile]: [{ line: 16 }, { line: 14 }] });
    assert.ok(fs.existsSync(out), 'the program was built at `output`');
    const [bp16, bp14] = bps[progFile];
    assert.equal(bp16.verified, true);
    assert.equal(bp16.line, 16);
    assert.deepEqual(bp16.source, { name: 'main.go', path: progFile });
    assert.equal(bp14.verified, false);
    assert.equal(bp14.message,
      `could not find statement at ${progFile}:14, please use a line with a statement`);

    const done = await dc.configurationDoneRequest();
    const console = await waitEvent(ctx, (e) => e.event === 'output' && e.body.category === 'console', 'console line');
    assert.equal(console.body.output, "Type 'dlv help' for list of commands.\n");
    assert.ok(console.at < done.at);

    let stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'breakpoint');
    assert.equal(stop.body.threadId, 1);
    assert.deepEqual(stop.body.hitBreakpointIds, [bp16.id]);
    assert.equal(stop.body.allThreadsStopped, true);

    const threads = await dc.threadsRequest();
    const current = threads.body.threads.find((t) => t.id === 1);
    assert.match(current.name, /^\* \[Go 1\] main\.add \(Thread \d+\)$/);
    for (const t of threads.body.threads.filter((x) => x.id !== 1)) {
      assert.match(t.name, /^\[Go \d+\] \S+/);
    }

    // VS Code's two-step stack load: the top frame, then the rest.
    const top = await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 1 });
    assert.equal(top.body.stackFrames.length, 1);
    assert.equal(top.body.stackFrames[0].name, 'main.add');
    assert.equal(top.body.stackFrames[0].line, 16);
    assert.match(top.body.stackFrames[0].instructionPointerReference, /^0x[0-9a-f]+$/);
    assert.equal(top.body.totalFrames, 51, 'one frame loaded, not the bottom: 1 + stackTraceDepth');
    const rest = await dc.stackTraceRequest({ threadId: 1, startFrame: 1, levels: 20 });
    assert.deepEqual(rest.body.stackFrames.map((f) => f.name),
      ['main.main', 'runtime.main', 'runtime.goexit']);
    assert.equal(rest.body.totalFrames, 4);
    assert.equal(rest.body.stackFrames[0].line, 38);
    assert.equal(rest.body.stackFrames[0].presentationHint, undefined);
    assert.equal(rest.body.stackFrames[1].presentationHint, 'subtle');

    let vars = await locals(dc, top.body.stackFrames[0].id);
    assert.deepEqual(Object.keys(vars), ['a', 'b', '~r0']);
    assert.equal(vars.a.value, '0');
    assert.equal(vars.a.type, 'int');
    assert.equal(vars.a.evaluateName, 'a');
    assert.equal(vars['~r0'].evaluateName, undefined, 'unnamed results cannot be evaluated');

    // Second iteration: add(0, 1).
    const cont = await dc.continueRequest({ threadId: 1 });
    assert.equal(cont.body.allThreadsContinued, true);
    stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'breakpoint');
    let frames = await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 20 });
    vars = await locals(dc, frames.body.stackFrames[0].id);
    assert.equal(vars.b.value, '1');
    const ev = await dc.evaluateRequest({ expression: 'a + b*10', frameId: frames.body.stackFrames[0].id, context: 'watch' });
    assert.equal(ev.body.result, '10');
    await assert.rejects(dc.evaluateRequest({ expression: 'nosuch', frameId: frames.body.stackFrames[0].id, context: 'watch' }),
      /Unable to evaluate expression/);

    // next: `continued`, the response, then stopped{step} on the next line.
    const nextResp = await dc.nextRequest({ threadId: 1 });
    stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'step');
    const continued = ctx.events.find((e) => e.event === 'continued');
    assert.ok(continued && continued.at < nextResp.at, 'continued precedes the step response');
    frames = await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 1 });
    assert.equal(frames.body.stackFrames[0].line, 17);

    await dc.setBreakpointsRequest({ source: { path: progFile }, breakpoints: [] });
    await dc.stepOutRequest({ threadId: 1 });
    stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'step');
    frames = await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 1 });
    assert.equal(frames.body.stackFrames[0].name, 'main.main');
    assert.equal(frames.body.stackFrames[0].line, 38);

    // Values at line 40.
    await dc.setBreakpointsRequest({ source: { path: progFile }, breakpoints: [{ line: 40 }] });
    await dc.continueRequest({ threadId: 1 });
    stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'breakpoint');
    frames = await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 1 });
    const fid = frames.body.stackFrames[0].id;
    vars = await locals(dc, fid);
    assert.deepEqual(Object.keys(vars), ['p', 'pp', 'xs', 'm', 'e', 'total']);
    assert.equal(vars.p.value, 'main.Point {X: 1, Y: 2, Label: "origin"}');
    assert.equal(vars.pp.value, '*main.Point {X: 1, Y: 2, Label: "origin"}');
    assert.equal(vars.xs.value, '[]int len: 3, cap: 3, [10,20,30]');
    assert.equal(vars.xs.indexedVariables, 3);
    assert.equal(vars.m.value, 'map[string]int ["one": 1, ]');
    assert.equal(vars.m.namedVariables, 1);
    assert.equal(vars.e.value, 'error nil');
    assert.equal(vars.e.variablesReference, 0);
    assert.equal(vars.total.value, '10');

    const fields = await dc.variablesRequest({ variablesReference: vars.p.variablesReference });
    assert.deepEqual(fields.body.variables.map((v) => [v.name, v.value, v.evaluateName]),
      [['X', '1', 'p.X'], ['Y', '2', 'p.Y'], ['Label', '"origin"', 'p.Label']]);
    const pointee = await dc.variablesRequest({ variablesReference: vars.pp.variablesReference });
    assert.equal(pointee.body.variables[0].name, '');
    assert.equal(pointee.body.variables[0].evaluateName, '(*pp)');
    const page = await dc.variablesRequest({ variablesReference: vars.xs.variablesReference, filter: 'indexed', start: 1, count: 2 });
    assert.deepEqual(page.body.variables.map((v) => [v.name, v.value, v.evaluateName]),
      [['[1]', '20', 'xs[1]'], ['[2]', '30', 'xs[2]']]);
    const entries = await dc.variablesRequest({ variablesReference: vars.m.variablesReference });
    assert.deepEqual(entries.body.variables.map((v) => [v.name, v.value, v.type, v.evaluateName]),
      [['len()', '1', 'int', 'len(m)'], ['"one"', '1', 'string: int', 'm["one"]']]);
    const hover = await dc.evaluateRequest({ expression: 'xs', frameId: fid, context: 'hover' });
    assert.equal(hover.body.result, '[]int len: 3, cap: 3, [10,20,30]');
    assert.ok(hover.body.variablesReference > 0);

    const scopes = await dc.scopesRequest({ frameId: fid });
    const set = await dc.setVariableRequest({ variablesReference: scopes.body.scopes[0].variablesReference, name: 'total', value: '77' });
    assert.equal(set.body.value, '77');
    const total = await dc.evaluateRequest({ expression: 'total', frameId: fid, context: 'repl' });
    assert.equal(total.body.result, '77');

    // Run to the end: exited{3}, then terminated.
    await dc.continueRequest({ threadId: 1 });
    await waitExit(ctx, 3);
    if (expectExited) {
      // Numbered messages (newer Delve; 1.20.2 sends seq 0): strictly increasing.
      const seqs = ctx.messages.map((m) => m.seq);
      assert.ok(seqs.every((q, i) => i === 0 || q > seqs[i - 1]), 'seq increases');
    }
    await finish(ctx, assert);
    assert.equal(fs.existsSync(out), false, 'the built binary is deleted when the session ends');
  } finally {
    ctx.srv.proc.kill('SIGKILL');
  }
});

test('exec mode: stepIn, conditional breakpoint, logpoint', { skip }, async () => {
  const bin = buildProg(tmpdir());
  const ctx = await connect();
  const { dc } = ctx;
  const seen = new Set();
  try {
    const bps = await launch(ctx, { mode: 'exec', program: bin }, {
      [progFile]: [{ line: 16, condition: 'b == 3' }, { line: 17, logMessage: 's={s} a={a}' }],
    });
    assert.deepEqual(bps[progFile].map((b) => b.verified), [true, true]);
    await dc.configurationDoneRequest();
    let stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'breakpoint');
    let frames = await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 1 });
    const vars = await locals(dc, frames.body.stackFrames[0].id);
    assert.equal(vars.b.value, '3', 'the condition held');
    // Logpoint lines of the three calls before (s = 0, 1, 3), none stopped.
    const logs = ctx.events.filter((e) => e.event === 'output' && e.body.category === 'stdout');
    assert.deepEqual(logs.map((e) => e.body.output),
      ['> [Go 1]: s=0 a=0\n', '> [Go 1]: s=1 a=0\n', '> [Go 1]: s=3 a=1\n']);
    assert.equal(logs[0].body.source.path, progFile);
    assert.equal(logs[0].body.line, 17);

    // Clear, then stepIn from main into add.
    await dc.setBreakpointsRequest({ source: { path: progFile }, breakpoints: [{ line: 38 }] });
    await dc.stepOutRequest({ threadId: 1 });
    stop = await nextStop(ctx, seen);
    await dc.continueRequest({ threadId: 1 });
    stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'breakpoint');
    await dc.stepInRequest({ threadId: 1 });
    stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'step');
    frames = await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 2 });
    assert.equal(frames.body.stackFrames[0].name, 'main.add');
    assert.equal(frames.body.stackFrames[1].name, 'main.main');
    await finish(ctx, assert);
  } finally {
    ctx.srv.proc.kill('SIGKILL');
  }
});

test('panic: function breakpoint, exception stop, exceptionInfo', { skip }, async () => {
  const bin = buildProg(tmpdir());
  const ctx = await connect();
  const { dc } = ctx;
  const seen = new Set();
  try {
    await launch(ctx, { mode: 'exec', program: bin, args: ['panic'] });
    const fbp = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'main.explode' }] });
    assert.equal(fbp.body.breakpoints[0].verified, true);
    assert.equal(fbp.body.breakpoints[0].line, 20);
    await dc.configurationDoneRequest();
    let stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'function breakpoint');
    assert.deepEqual(stop.body.hitBreakpointIds, [fbp.body.breakpoints[0].id]);
    await assert.rejects(dc.exceptionInfoRequest({ threadId: 1 }),
      /Unable to get exception info/);

    await dc.continueRequest({ threadId: 1 });
    stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'exception');
    assert.equal(stop.body.description, 'panic');
    assert.equal(stop.body.text, '"fixture panic: bad value 42"');
    assert.deepEqual(stop.body.hitBreakpointIds, [-1]);
    const info = await dc.exceptionInfoRequest({ threadId: 1 });
    assert.equal(info.body.exceptionId, 'panic');
    assert.equal(info.body.description, '"fixture panic: bad value 42"');
    assert.match(info.body.details.stackTrace,
      /^Stack:\n\t\d+  0x[0-9a-f]{16} in main\.explode\n\t +at .*main\.go:21\n\t\d+  0x[0-9a-f]{16} in main\.main\n/);
    const frames = await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 3 });
    assert.deepEqual(frames.body.stackFrames.map((f) => f.name),
      ['runtime.fatalpanic', 'runtime.gopanic', 'main.explode']);

    await dc.continueRequest({ threadId: 1 });
    await waitExit(ctx, 2);
    await finish(ctx, assert);
  } finally {
    ctx.srv.proc.kill('SIGKILL');
  }
});

test('pause a running program, breakpoints while running, disconnect kills it', { skip }, async () => {
  const bin = buildProg(tmpdir());
  const ctx = await connect();
  const { dc } = ctx;
  const seen = new Set();
  try {
    await launch(ctx, { mode: 'exec', program: bin, args: ['spin'] });
    await dc.configurationDoneRequest();
    // Running: threads answers the placeholder, stackTrace is refused.
    const threads = await dc.threadsRequest();
    assert.deepEqual(threads.body.threads, [{ id: -1, name: 'Current' }]);
    await assert.rejects(dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 1 }),
      /Unable to process `stackTrace`/);
    // A breakpoint change while running: halt, apply, resume, no stopped event.
    // A logpoint in spin's loop says when the program is there: a pause before main runs
    // (under load) stops in the runtime's start-up, with no goroutine 1 yet, in dlv too.
    const bp = await dc.setBreakpointsRequest({
      source: { path: progFile },
      breakpoints: [{ line: 99 }, { line: 26, logMessage: 'spinning {n}' }],
    });
    assert.equal(bp.body.breakpoints[0].verified, false);
    assert.equal(bp.body.breakpoints[1].verified, true);
    await waitEvent(ctx, (e) => e.event === 'output' && /spinning \d+/.test(e.body.output), 'the logpoint in spin');
    assert.equal(ctx.events.filter((e) => e.event === 'stopped').length, 0);
    await dc.pauseRequest({ threadId: 1 });
    const stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'pause');
    const frames = await dc.stackTraceRequest({ threadId: stop.body.threadId ?? 1, startFrame: 0, levels: 50 });
    assert.ok(frames.body.stackFrames.length > 0);
    await finish(ctx, assert);
    const console = ctx.events.filter((e) => e.event === 'output' && e.body.category === 'console');
    assert.equal(console.at(-1).body.output, 'Detaching and terminating target process\n');
  } finally {
    ctx.srv.proc.kill('SIGKILL');
  }
});

test('test mode: go test -c, a breakpoint in the test, exit status 0', { skip }, async () => {
  const ctx = await connect();
  const { dc } = ctx;
  const seen = new Set();
  const testFile = path.join(progDir, 'main_test.go');
  const out = path.join(tmpdir(), 'test_bin');
  try {
    const bps = await launch(ctx, { mode: 'test', program: progDir, output: out, args: ['-test.run', '^TestAdd$'] },
      { [testFile]: [{ line: 6 }] });
    assert.equal(bps[testFile][0].verified, true);
    await dc.configurationDoneRequest();
    const stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'breakpoint');
    const frames = await dc.stackTraceRequest({ threadId: stop.body.threadId, startFrame: 0, levels: 1 });
    assert.match(frames.body.stackFrames[0].name, /\.TestAdd$/);
    assert.equal(frames.body.stackFrames[0].line, 6);
    await dc.continueRequest({ threadId: stop.body.threadId });
    await waitExit(ctx, 0);
    await finish(ctx, assert);
    assert.equal(fs.existsSync(out), false);
  } finally {
    ctx.srv.proc.kill('SIGKILL');
  }
});

test('attach local: capabilities event, pause, detach leaves the process running', { skip }, async () => {
  const bin = buildProg(tmpdir());
  const target = spawn(bin, ['spin'], { stdio: 'ignore' });
  const ctx = await connect();
  const { dc } = ctx;
  const seen = new Set();
  try {
    await dc.initializeRequest(initArgs);
    const attached = await dc.attachRequest({ mode: 'local', processId: target.pid });
    assert.equal(attached.success, true);
    const caps = await waitEvent(ctx, (e) => e.event === 'capabilities', 'capabilities');
    assert.equal(caps.body.capabilities.supportTerminateDebuggee, true);
    await waitEvent(ctx, (e) => e.event === 'initialized', 'initialized');
    await dc.configurationDoneRequest();
    await dc.pauseRequest({ threadId: 1 });
    const stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'pause');
    await finish(ctx, assert);
    const console = ctx.events.filter((e) => e.event === 'output' && e.body.category === 'console');
    assert.equal(console.at(-1).body.output, 'Detaching without terminating target process\n');
    // Still alive and running: signal 0 succeeds.
    assert.doesNotThrow(() => process.kill(target.pid, 0));
  } finally {
    ctx.srv.proc.kill('SIGKILL');
    target.kill('SIGKILL');
  }
});

test('noDebug: no initialized, exit reported, other requests refused, disconnect kills', { skip }, async () => {
  const bin = buildProg(tmpdir());
  let ctx = await connect();
  try {
    await ctx.dc.initializeRequest(initArgs);
    await ctx.dc.launchRequest({ mode: 'exec', program: bin, noDebug: true });
    const line = await waitEvent(ctx, (e) => e.event === 'output' && e.body.category === 'console', 'console');
    assert.match(line.body.output, /^Process \d+ has exited with status 3\n$/);
    await waitExit(ctx, 3);
    await assert.rejects(ctx.dc.threadsRequest(), /noDebug mode/);
    assert.equal(ctx.events.filter((e) => e.event === 'initialized').length, 0);
    await finish(ctx, assert);
  } finally {
    ctx.srv.proc.kill('SIGKILL');
  }
  ctx = await connect();
  try {
    await ctx.dc.initializeRequest(initArgs);
    await ctx.dc.launchRequest({ mode: 'exec', program: bin, noDebug: true, args: ['spin'] });
    await finish(ctx, assert);
    const console = ctx.events.filter((e) => e.event === 'output' && e.body.category === 'console');
    assert.ok(console.some((e) => /^Terminating process \d+\n$/.test(e.body.output)),
      JSON.stringify(console));
  } finally {
    ctx.srv.proc.kill('SIGKILL');
  }
});
