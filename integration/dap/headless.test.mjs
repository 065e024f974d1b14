// DAP on a headless server's port (dap.md §1.2): `exec --headless` serves JSON-RPC and DAP on
// one port (the first byte decides), DAP clients attach in mode `remote`, and `disconnect`
// behaves as dlv's with and without --accept-multiclient. The same expectations hold for
// dlv itself: GOSCOPE_DAP_SERVER=dlv node --test integration/dap/headless.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import {
  haveClient, initArgs, progDir, progFile, tmpdir, buildProg, nextStop, waitEvent, server,
} from './harness.mjs';

if (!haveClient) {
  console.log('SKIP: @vscode/debugadapter-testsupport is not installed (npm ci in integration/dap; scripts/install-deps.sh does it)');
  process.exit(77);
}
const { DebugClient } = await import('@vscode/debugadapter-testsupport');

const bin = buildProg(tmpdir());

/// `<server> exec <bin> --headless ...`; resolves once it prints its listening line.
function startHeadless(extra = [], progArgs = []) {
  return new Promise((resolve, reject) => {
    const args = ['exec', bin, '--headless', '--listen=127.0.0.1:0', '--api-version=2', ...extra];
    if (progArgs.length) args.push('--', ...progArgs);
    const proc = spawn(server, args, { cwd: progDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const exited = new Promise((res) => proc.on('exit', (code, sig) => res({ code, sig })));
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /API server listening at: (127\.0\.0\.1:(\d+))\n/.exec(out);
      if (m) resolve({ proc, addr: m[1], port: Number(m[2]), exited, stderr: () => err, stdout: () => out });
    });
    proc.on('error', reject);
  });
}

async function dapClient(port) {
  const dc = new DebugClient('node', 'unused', 'go');
  dc.defaultTimeout = 30000;
  const events = [];
  const messages = [];
  dc.dispatch = (body) => {
    const m = JSON.parse(body);
    m.at = messages.length;
    messages.push(m);
    if (m.type === 'event') {
      events.push(m);
      dc.emit(m.event, m);
    } else {
      const clb = dc.pendingRequests.get(m.request_seq);
      if (clb) {
        dc.pendingRequests.delete(m.request_seq);
        clb(m);
      }
    }
  };
  await dc.start(port);
  // The client's socket, to see the server close it.
  const closed = new Promise((r) => dc._socket.once('close', r));
  return { dc, events, messages, closed };
}

/// One JSON-RPC request over a fresh connection on the same port.
function rpc(port, method, params = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => {
      data += d;
      try {
        const r = JSON.parse(data);
        sock.end();
        resolve(r);
      } catch { /* more to come */ }
    });
    sock.on('error', reject);
    sock.write(JSON.stringify({ method: `RPCServer.${method}`, params: [params], id: 1 }));
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const lastResponse = (ctx, command) =>
  [...ctx.messages].reverse().find((m) => m.type === 'response' && m.command === command);

async function attachRemote(ctx, extra = {}) {
  await ctx.dc.initializeRequest(initArgs);
  const r = await ctx.dc.attachRequest({ mode: 'remote', ...extra });
  assert.equal(r.success, true);
  const initialized = await waitEvent(ctx, (e) => e.event === 'initialized', 'initialized');
  assert.ok(initialized.at < r.at, 'initialized precedes the attach response');
  return r;
}

test('headless, one client: launch refused, attach remote, breakpoint, disconnect ends the server', async () => {
  const srv = await startHeadless();
  try {
    const ctx = await dapClient(srv.port);
    await ctx.dc.initializeRequest(initArgs);
    await ctx.dc.launchRequest({ mode: 'exec', program: bin }).catch(() => {});
    assert.equal(lastResponse(ctx, 'launch').body.error.format,
      `Failed to launch: debug session already in progress at ${srv.addr} - use remote attach mode to connect to a server with an active debug session`);
    await ctx.dc.attachRequest({ mode: 'local', processId: 1 }).catch(() => {});
    assert.equal(lastResponse(ctx, 'attach').body.error.format,
      `Failed to attach: debug session already in progress at ${srv.addr} - use remote mode to connect to a server with an active debug session`);
    const r = await ctx.dc.attachRequest({ mode: 'remote' });
    assert.equal(r.success, true);
    await waitEvent(ctx, (e) => e.event === 'initialized', 'initialized');
    // A launched target with one client: nothing to choose at disconnect.
    assert.ok(!ctx.events.some((e) => e.event === 'capabilities'), 'no capabilities event');
    const bps = await ctx.dc.setBreakpointsRequest({ source: { path: progFile }, breakpoints: [{ line: 16 }] });
    assert.equal(bps.body.breakpoints[0].verified, true);
    await ctx.dc.configurationDoneRequest();
    const seen = new Set();
    const stop = await nextStop(ctx, seen);
    assert.equal(stop.body.reason, 'breakpoint');
    const st = await ctx.dc.stackTraceRequest({ threadId: stop.body.threadId, startFrame: 0, levels: 1 });
    assert.equal(st.body.stackFrames[0].name, 'main.add');
    assert.equal(st.body.stackFrames[0].line, 16);
    const d = await ctx.dc.disconnectRequest({});
    assert.equal(d.success, true);
    await waitEvent(ctx, (e) => e.event === 'terminated', 'terminated');
    const out = ctx.events.filter((e) => e.event === 'output').map((e) => e.body.output);
    assert.ok(out.includes('Detaching and terminating target process\n'), JSON.stringify(out));
    const { code } = await srv.exited;
    assert.equal(code, 0, srv.stderr());
  } finally {
    srv.proc.kill('SIGKILL');
  }
});

test('headless --accept-multiclient: a DAP client leaves the target halted, JSON-RPC and a second DAP client follow, terminateDebuggee ends all', async () => {
  const srv = await startHeadless(['--accept-multiclient'], ['spin']);
  try {
    const a = await dapClient(srv.port);
    await attachRemote(a);
    // With --accept-multiclient the user may leave the target running.
    const caps = await waitEvent(a, (e) => e.event === 'capabilities', 'capabilities');
    assert.equal(caps.body.capabilities.supportTerminateDebuggee, true);
    await a.dc.setBreakpointsRequest({ source: { path: progFile }, breakpoints: [{ line: 26 }] });
    await a.dc.configurationDoneRequest();
    const stop = await nextStop(a, new Set());
    assert.equal(stop.body.reason, 'breakpoint');
    await a.dc.disconnectRequest({});
    await waitEvent(a, (e) => e.event === 'terminated', 'terminated');
    await a.closed;
    const lines = a.events.filter((e) => e.event === 'output').map((e) => e.body.output);
    assert.ok(lines.includes(`Closing client session, but leaving multi-client DAP server at ${srv.addr} with debuggee halted\n`),
      JSON.stringify(lines));
    // The server is still there, the target still halted at the breakpoint, for JSON-RPC...
    const state = await rpc(srv.port, 'State', { NonBlocking: true });
    assert.equal(state.error, null);
    assert.equal(state.result.State.Running, false);
    const pid = (await rpc(srv.port, 'ProcessPid')).result.Pid;
    assert.ok(alive(pid));
    // ...and for the next DAP client, which keeps the breakpoint and runs to it again.
    const b = await dapClient(srv.port);
    await attachRemote(b);
    await b.dc.setBreakpointsRequest({ source: { path: progFile }, breakpoints: [{ line: 26 }] });
    await b.dc.configurationDoneRequest();
    const stop2 = await nextStop(b, new Set());
    assert.equal(stop2.body.reason, 'breakpoint');
    await b.dc.continueRequest({ threadId: stop2.body.threadId });
    const stop3 = await nextStop(b, new Set([stop2.at]));
    assert.equal(stop3.body.reason, 'breakpoint');
    await b.dc.disconnectRequest({ terminateDebuggee: true });
    await waitEvent(b, (e) => e.event === 'terminated', 'terminated');
    const { code } = await srv.exited;
    assert.equal(code, 0, srv.stderr());
    assert.ok(!alive(pid), 'the debuggee was killed');
  } finally {
    srv.proc.kill('SIGKILL');
  }
});

test('headless --accept-multiclient: a client that disconnects while the target runs leaves it running', async () => {
  const srv = await startHeadless(['--accept-multiclient'], ['spin']);
  try {
    const a = await dapClient(srv.port);
    await attachRemote(a);
    await a.dc.configurationDoneRequest();
    await a.dc.disconnectRequest({});
    await waitEvent(a, (e) => e.event === 'terminated', 'terminated');
    const lines = a.events.filter((e) => e.event === 'output').map((e) => e.body.output);
    assert.ok(lines.includes(`Closing client session, but leaving multi-client DAP server at ${srv.addr} with debuggee running\n`),
      JSON.stringify(lines));
    const state = await rpc(srv.port, 'State', { NonBlocking: true });
    assert.equal(state.result.State.Running, true);
    // A second client halts it to attach, then ends everything.
    const b = await dapClient(srv.port);
    await attachRemote(b);
    const threads = await b.dc.threadsRequest();
    assert.ok(threads.body.threads.some((t) => t.id === 1 && /^(\* )?\[Go 1\] /.test(t.name)),
      JSON.stringify(threads.body));
    await b.dc.disconnectRequest({ terminateDebuggee: true });
    const { code } = await srv.exited;
    assert.equal(code, 0, srv.stderr());
  } finally {
    srv.proc.kill('SIGKILL');
  }
});

test('headless: JSON-RPC on the same port still works', async () => {
  const srv = await startHeadless(['--accept-multiclient']);
  try {
    const v = await rpc(srv.port, 'GetVersion');
    assert.equal(v.error, null);
    assert.equal(v.result.APIVersion, 2);
    await rpc(srv.port, 'Detach', { Kill: true });
    const { code } = await srv.exited;
    assert.equal(code, 0);
  } finally {
    srv.proc.kill('SIGKILL');
  }
});
