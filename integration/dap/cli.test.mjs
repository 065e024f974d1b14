// `goscope dap`'s command line as editors spawn it: the three spellings of the listen flag,
// --log-dest=3 (vscode-go reads the readiness line from fd 3), --client-addr (the server
// dials a waiting client: vscode-go's integrated-terminal mode).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { server, progDir } from './harness.mjs';

const frame = (o) => {
  const b = JSON.stringify(o);
  return `Content-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;
};

// initialize + disconnect over a socket; resolves with the messages received.
function shortSession(sock) {
  return new Promise((resolve, reject) => {
    let data = '';
    sock.on('data', (d) => { data += d; });
    sock.on('close', () => resolve(data));
    sock.on('error', reject);
    sock.write(frame({ seq: 1, type: 'request', command: 'initialize', arguments: { adapterID: 'go' } }));
    sock.write(frame({ seq: 2, type: 'request', command: 'disconnect', arguments: {} }));
  });
}

function run(args, stdio = ['ignore', 'pipe', 'pipe']) {
  const proc = spawn(server, ['dap', ...args], { cwd: progDir, stdio });
  const exited = new Promise((res) => proc.on('exit', (code) => res(code)));
  return { proc, exited };
}

function firstLine(stream) {
  return new Promise((resolve) => {
    let s = '';
    stream.on('data', (d) => {
      s += d;
      const i = s.indexOf('\n');
      if (i >= 0) resolve(s.slice(0, i + 1));
    });
  });
}

for (const args of [['--listen=127.0.0.1:0'], ['-l', '127.0.0.1:0'], ['--listen', '127.0.0.1:0']]) {
  test(`listen spelling: ${args.join(' ')}`, async () => {
    const { proc, exited } = run(args);
    try {
      const line = await firstLine(proc.stdout);
      const m = /^DAP server listening at: 127\.0\.0\.1:(\d+)\n$/.exec(line);
      assert.ok(m, `readiness line: ${JSON.stringify(line)}`);
      const got = await shortSession(net.createConnection(Number(m[1]), '127.0.0.1'));
      assert.match(got, /"command":"initialize"/);
      assert.match(got, /"event":"terminated"/);
      assert.equal(await exited, 0);
    } finally {
      proc.kill('SIGKILL');
    }
  });
}

test('--log-dest=3: the readiness line goes to fd 3 only', async () => {
  const { proc, exited } = run(['--listen=127.0.0.1:0', '--log-dest=3'],
    ['ignore', 'pipe', 'pipe', 'pipe']);
  try {
    let stdout = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    const line = await firstLine(proc.stdio[3]);
    const m = /^DAP server listening at: 127\.0\.0\.1:(\d+)\n$/.exec(line);
    assert.ok(m, line);
    await shortSession(net.createConnection(Number(m[1]), '127.0.0.1'));
    assert.equal(await exited, 0);
    assert.equal(stdout, '');
  } finally {
    proc.kill('SIGKILL');
  }
});

test('--client-addr: the server dials the waiting client', async () => {
  const listener = net.createServer();
  await new Promise((r) => listener.listen(0, '127.0.0.1', r));
  const port = listener.address().port;
  const accepted = new Promise((r) => listener.once('connection', r));
  const { proc, exited } = run([`--client-addr=127.0.0.1:${port}`]);
  try {
    const sock = await accepted;
    const got = await shortSession(sock);
    assert.match(got, /"supportsConfigurationDoneRequest":true/);
    assert.equal(await exited, 0);
  } finally {
    proc.kill('SIGKILL');
    listener.close();
  }
});

test('SIGTERM while waiting for a client: a clean exit', async () => {
  const { proc, exited } = run(['--listen=127.0.0.1:0']);
  await firstLine(proc.stdout);
  proc.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('--log --log-output=dap traces every message on stderr', async () => {
  const { proc, exited } = run(['--listen=127.0.0.1:0', '--log', '--log-output=dap']);
  try {
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const line = await firstLine(proc.stdout);
    const m = /(\d+)\n$/.exec(line);
    await shortSession(net.createConnection(Number(m[1]), '127.0.0.1'));
    assert.equal(await exited, 0);
    assert.match(stderr, /debug layer=dap \[<- from client\]\{"seq":1,"type":"request","command":"initialize"/);
    assert.match(stderr, /debug layer=dap \[-> to client\]\{.*"command":"initialize"/);
  } finally {
    proc.kill('SIGKILL');
  }
});
