// What goscope's DAP server does beyond dlv 1.20.2 (docs/dap.md "Beyond dlv"), and values the
// differential test cannot compare (they change from run to run): the debuggee's output as
// `output` events (outputMode remote, newer Delve's), the values a function returned after
// stepOut, the Registers scope's values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  haveClient, connect, initArgs, progFile, tmpdir, buildProg, nextStop, waitEvent, finish, server,
} from './harness.mjs';

if (!haveClient) {
  console.log('SKIP: @vscode/debugadapter-testsupport is not installed (npm ci in integration/dap; scripts/install-deps.sh does it)');
  process.exit(77);
}
if (/(^|\/)dlv$/.test(server)) {
  console.log('SKIP: these are goscope features dlv 1.20.2 does not have');
  process.exit(77);
}

const bin = buildProg(tmpdir());

async function start(ctx, launchArgs, breakpoints = []) {
  await ctx.dc.initializeRequest(initArgs);
  await ctx.dc.launchRequest({ mode: 'exec', program: bin, ...launchArgs });
  if (breakpoints.length)
    await ctx.dc.setBreakpointsRequest({ source: { path: progFile }, breakpoints });
  await ctx.dc.configurationDoneRequest();
}

test('outputMode remote: the program\'s stdout arrives as output events before exited', async () => {
  const ctx = await connect();
  await start(ctx, { outputMode: 'remote' });
  const exited = await waitEvent(ctx, (e) => e.event === 'exited', 'exited');
  assert.equal(exited.body.exitCode, 3);
  const out = ctx.events.filter((e) => e.event === 'output' && e.body.category === 'stdout');
  assert.equal(out.map((e) => e.body.output).join(''), '{1 2 origin} 1 [10 20 30] map[one:1] <nil> 10\n');
  assert.ok(out.every((e) => e.at < exited.at), 'output precedes exited');
  await finish(ctx, assert);
});

test('outputMode: anything but local or remote is refused as newer Delve does', async () => {
  const ctx = await connect();
  await ctx.dc.initializeRequest(initArgs);
  await ctx.dc.launchRequest({ mode: 'exec', program: bin, outputMode: 'file' }).catch(() => {});
  const r = ctx.messages.find((m) => m.type === 'response' && m.command === 'launch');
  assert.equal(r.body.error.format,
    'Failed to launch: invalid debug configuration - unsupported \'outputMode\' attribute "file"');
  await finish(ctx, assert);
});

test('stepOut: the returned values head the caller\'s Locals', async () => {
  const ctx = await connect();
  const seen = new Set();
  await start(ctx, {}, [{ line: 16, condition: 'a == 3' }]);
  const stop = await nextStop(ctx, seen);
  await ctx.dc.stepOutRequest({ threadId: stop.body.threadId });
  const step = await nextStop(ctx, seen);
  assert.equal(step.body.reason, 'step');
  const st = await ctx.dc.stackTraceRequest({ threadId: step.body.threadId, startFrame: 0, levels: 1 });
  assert.equal(st.body.stackFrames[0].name, 'main.main');
  const scopes = await ctx.dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
  const vars = await ctx.dc.variablesRequest({ variablesReference: scopes.body.scopes[0].variablesReference });
  const first = vars.body.variables[0];
  assert.equal(first.name, '(return) ~r0');
  assert.equal(first.value, '6'); // add(3, 3)
  assert.equal(first.evaluateName, undefined);
  // The next stop forgets them.
  await ctx.dc.nextRequest({ threadId: step.body.threadId });
  const again = await nextStop(ctx, seen);
  const st2 = await ctx.dc.stackTraceRequest({ threadId: again.body.threadId, startFrame: 0, levels: 1 });
  const scopes2 = await ctx.dc.scopesRequest({ frameId: st2.body.stackFrames[0].id });
  const vars2 = await ctx.dc.variablesRequest({ variablesReference: scopes2.body.scopes[0].variablesReference });
  assert.ok(!vars2.body.variables.some((v) => v.name.startsWith('(return)')), JSON.stringify(vars2.body.variables));
  await finish(ctx, assert);
});

test('showRegisters: rip is the frame\'s PC, rsp its stack', async () => {
  const ctx = await connect();
  const seen = new Set();
  await start(ctx, { showRegisters: true }, [{ line: 16 }]);
  const stop = await nextStop(ctx, seen);
  const st = await ctx.dc.stackTraceRequest({ threadId: stop.body.threadId, startFrame: 0, levels: 2 });
  for (const frame of st.body.stackFrames) {
    const scopes = await ctx.dc.scopesRequest({ frameId: frame.id });
    const regs = scopes.body.scopes.find((s) => s.name === 'Registers');
    const vars = await ctx.dc.variablesRequest({ variablesReference: regs.variablesReference });
    const rip = vars.body.variables.find((v) => v.name === '   rip');
    assert.equal(BigInt(rip.value), BigInt(frame.instructionPointerReference), frame.name);
  }
  await finish(ctx, assert);
});

test('data breakpoints: break when a variable changes (hardware watchpoints)', async (t) => {
  const ctx = await connect();
  const init = await ctx.dc.initializeRequest(initArgs);
  if (!init.body.supportsDataBreakpoints) {
    t.skip('hardware watchpoints do not fire on this machine (no supportsDataBreakpoints)');
    await finish(ctx, assert);
    return;
  }
  await ctx.dc.launchRequest({ mode: 'exec', program: bin });
  await ctx.dc.setBreakpointsRequest({ source: { path: progFile }, breakpoints: [{ line: 37 }] });
  await ctx.dc.configurationDoneRequest();
  const seen = new Set();
  const stop = await nextStop(ctx, seen);
  const st = await ctx.dc.stackTraceRequest({ threadId: stop.body.threadId, startFrame: 0, levels: 1 });
  const scopes = await ctx.dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
  const info = await ctx.dc.customRequest('dataBreakpointInfo',
    { variablesReference: scopes.body.scopes[0].variablesReference, name: 'total' });
  assert.equal(info.body.dataId, `${stop.body.threadId},0,total`);
  assert.deepEqual(info.body.accessTypes, ['read', 'write', 'readWrite']);
  const set = await ctx.dc.customRequest('setDataBreakpoints',
    { breakpoints: [{ dataId: info.body.dataId, accessType: 'write' }, { dataId: 'bogus', accessType: 'write' }] });
  assert.equal(set.body.breakpoints[0].verified, true, JSON.stringify(set.body));
  assert.equal(set.body.breakpoints[1].verified, false);
  assert.equal(set.body.breakpoints[1].message, 'malformed data ID: "bogus"');
  await ctx.dc.setBreakpointsRequest({ source: { path: progFile }, breakpoints: [] });
  await ctx.dc.continueRequest({ threadId: stop.body.threadId });
  const hit = await nextStop(ctx, seen);
  assert.equal(hit.body.reason, 'data breakpoint');
  assert.deepEqual(hit.body.hitBreakpointIds, [set.body.breakpoints[0].id]);
  await finish(ctx, assert);
});

test('restart (Delve 1.25.1): new args, breakpoints kept, initialized again', async () => {
  const ctx = await connect();
  const init = await ctx.dc.initializeRequest(initArgs);
  assert.equal(init.body.supportsRestartRequest, true);
  await ctx.dc.launchRequest({ mode: 'exec', program: bin });
  await ctx.dc.setBreakpointsRequest({ source: { path: progFile }, breakpoints: [{ line: 26 }] });
  await ctx.dc.configurationDoneRequest();
  // Without arguments the program exits (status 3) and never reaches main.spin.
  await waitEvent(ctx, (e) => e.event === 'exited', 'exited');
  const before = ctx.events.filter((e) => e.event === 'initialized').length;
  const r = await ctx.dc.customRequest('restart', { arguments: { request: 'launch', mode: 'exec', program: bin, args: ['spin'] } });
  assert.equal(r.success, true);
  await waitEvent(ctx, (e) => e.event === 'initialized' && ctx.events.filter((x) => x.event === 'initialized').length > before, 'initialized again');
  await ctx.dc.configurationDoneRequest();
  const stop = await waitEvent(ctx, (e) => e.event === 'stopped', 'stopped');
  assert.equal(stop.body.reason, 'breakpoint');
  const st = await ctx.dc.stackTraceRequest({ threadId: stop.body.threadId, startFrame: 0, levels: 1 });
  assert.equal(st.body.stackFrames[0].name, 'main.spin');
  await finish(ctx, assert);
});
