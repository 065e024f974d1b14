// Starts `goscope dap` (or `dlv dap`) and connects VS Code's own DAP test client to it.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const here = path.dirname(fileURLToPath(import.meta.url));
export const progDir = path.join(here, 'prog');
export const progFile = path.join(progDir, 'main.go');

let DebugClient = null;
try {
  ({ DebugClient } = require('@vscode/debugadapter-testsupport'));
} catch {
  DebugClient = null;
}
export const haveClient = DebugClient !== null;

export const server = process.env.GOSCOPE_DAP_SERVER || 'goscope';

export function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'goscope-dap-'));
}

/// Builds the test program as dlv's debug mode does, for exec-mode launches.
export function buildProg(dir) {
  const out = path.join(dir, 'prog');
  execFileSync('go', ['build', '-gcflags=all=-N -l', '-o', out, '.'], { cwd: progDir });
  return out;
}

/// Spawns the server; resolves with {proc, port, exited} once it prints its listening line.
export function startServer(extraArgs = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(server, ['dap', '--listen=127.0.0.1:0', ...extraArgs], {
      cwd: progDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const exited = new Promise((res) => proc.on('exit', (code, sig) => res({ code, sig })));
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^DAP server listening at: 127\.0\.0\.1:(\d+)\n/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]), exited, stderr: () => err, stdout: () => out });
    });
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (!/DAP server listening at/.test(out)) reject(new Error(`server exited ${code}: ${err}`));
    });
  });
}

/// A DebugClient connected to a fresh server, recording every event in arrival order.
export async function connect(extraArgs = []) {
  const srv = await startServer(extraArgs);
  const dc = new DebugClient('node', 'unused', 'go');
  dc.defaultTimeout = 30000;
  const events = [];
  const messages = [];
  // Every message in arrival order, tagged with its position: dlv 1.20.2 sends seq 0 on
  // everything, so order is checked by arrival (`at`), which works against both servers.
  dc.dispatch = (body) => {
    const m = JSON.parse(body);
    m.at = messages.length;
    messages.push(m);
    if (m.type === 'event') {
      dc.emit(m.event, m);
    } else {
      const clb = dc.pendingRequests.get(m.request_seq);
      if (clb) {
        dc.pendingRequests.delete(m.request_seq);
        clb(m);
      }
    }
  };
  for (const name of ['initialized', 'stopped', 'continued', 'output', 'terminated', 'exited',
    'capabilities']) {
    dc.on(name, (e) => events.push(e));
  }
  await dc.start(srv.port);
  return { dc, srv, events, messages };
}

/// Waits until `pred` holds for a recorded event (already arrived or still to come).
export function waitEvent(ctx, pred, what, timeout = 30000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeout;
    const poll = () => {
      const e = ctx.events.find(pred);
      if (e) return resolve(e);
      if (Date.now() > deadline) {
        return reject(new Error(`timed out waiting for ${what}; events: ` +
          JSON.stringify(ctx.events.map((x) => [x.event, x.body]))));
      }
      setTimeout(poll, 20);
    };
    poll();
  });
}

/// The next `stopped` event after those already seen.
export async function nextStop(ctx, seen) {
  const e = await waitEvent(ctx, (x) => x.event === 'stopped' && !seen.has(x.at), 'stopped');
  seen.add(e.at);
  return e;
}

export const initArgs = {
  clientID: 'vscode', adapterID: 'go', pathFormat: 'path', linesStartAt1: true,
  columnsStartAt1: true, supportsVariableType: true, supportsVariablePaging: true,
  supportsRunInTerminalRequest: true,
};

/// Ends the session and checks the server exits by itself with status 0.
export async function finish(ctx, assert, args = {}) {
  await ctx.dc.disconnectRequest(args);
  const { code } = await ctx.srv.exited;
  assert.equal(code, 0, `server exit status; stderr: ${ctx.srv.stderr()}`);
}
