// Hostile and malformed input on the wire: every case gets an error response (or, for an
// oversized message, a closed connection as dlv does) and never a crash; the session goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from './harness.mjs';

// A raw DAP connection: send bytes, read framed messages.
function rawClient(port) {
  const sock = net.createConnection(port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  const queue = [];
  let waiter = null;
  let closed = false;
  const pump = () => {
    for (;;) {
      const idx = buf.indexOf('\r\n\r\n');
      if (idx < 0) break;
      const m = /Content-Length: (\d+)/.exec(buf.subarray(0, idx).toString());
      const n = Number(m[1]);
      if (buf.length < idx + 4 + n) break;
      queue.push(JSON.parse(buf.subarray(idx + 4, idx + 4 + n).toString()));
      buf = buf.subarray(idx + 4 + n);
    }
    if (waiter && (queue.length || closed)) { const w = waiter; waiter = null; w(); }
  };
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); pump(); });
  sock.on('close', () => { closed = true; pump(); });
  sock.on('error', () => {});
  return {
    sock,
    sendRaw: (b) => sock.write(b),
    send: (obj) => {
      const body = Buffer.from(JSON.stringify(obj));
      sock.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
    },
    next: (timeout = 10000) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timeout')), timeout);
      const check = () => {
        if (queue.length) { clearTimeout(t); resolve(queue.shift()); return; }
        if (closed) { clearTimeout(t); resolve('closed'); return; }
        waiter = check;
      };
      check();
    }),
  };
}

const frame = (s) => `Content-Length: ${Buffer.byteLength(s)}\r\n\r\n${s}`;

test('malformed header, non-JSON body, unknown command, wrong types: errors, server alive', async () => {
  const srv = await startServer();
  try {
    const c = rawClient(srv.port);
    // Unknown command: dlv's 8888 with an empty command.
    c.send({ seq: 1, type: 'request', command: 'frobnicate', arguments: {} });
    let r = await c.next();
    assert.equal(r.success, false);
    assert.equal(r.request_seq, 1);
    assert.equal(r.command, '');
    assert.equal(r.body.error.id, 8888);
    assert.equal(r.body.error.format, "Internal Error: Request command 'frobnicate' is not supported (seq: 1)");

    // A body that is not JSON: framing is intact, so an error response and the session goes on.
    c.sendRaw(frame('{"seq":2,"type":"requ'));
    r = await c.next();
    assert.equal(r.success, false);
    assert.equal(r.body.error.id, 8888);

    // A header without Content-Length, followed by garbage: resynchronised on the next header.
    c.sendRaw('Content-Lenght: 5\r\n\r\nhello');
    r = await c.next();
    assert.equal(r.success, false);
    assert.match(r.body.error.format, /Content-Length/);

    // Wrong argument types: the request's own error.
    c.send({ seq: 3, type: 'request', command: 'launch', arguments: { program: 5 } });
    r = await c.next();
    assert.equal(r.success, false);
    assert.equal(r.command, 'launch');
    assert.equal(r.body.error.id, 3000);
    assert.equal(r.body.error.format,
      'Failed to launch: invalid debug configuration - cannot unmarshal number into "program" of type string');
    c.send({ seq: 4, type: 'request', command: 'stackTrace', arguments: { threadId: 'x' } });
    r = await c.next();
    assert.equal(r.success, false);
    assert.equal(r.body.error.id, 2004);
    c.send({ seq: 5, type: 'request', command: 'initialize', arguments: [] });
    r = await c.next();
    assert.equal(r.success, false);

    // Still serving: initialize answers dlv's capabilities.
    c.send({ seq: 6, type: 'request', command: 'initialize', arguments: { adapterID: 'go', pathFormat: 'path' } });
    r = await c.next();
    assert.equal(r.success, true);
    assert.equal(r.request_seq, 6);
    assert.equal(r.body.supportsConfigurationDoneRequest, true);
    assert.equal(r.body.supportsHitConditionalBreakpoints, undefined);

    // Requests dlv 1.20.2 refuses, with its ids and texts.
    c.send({ seq: 7, type: 'request', command: 'terminate', arguments: {} });
    r = await c.next();
    assert.equal(r.body.error.format, 'Not yet implemented: cannot process "terminate" request');
    c.send({ seq: 8, type: 'request', command: 'source', arguments: {} });
    r = await c.next();
    assert.equal(r.body.error.format, 'Unsupported command: cannot process "source" request');

    c.send({ seq: 9, type: 'request', command: 'disconnect', arguments: {} });
    r = await c.next();
    assert.equal(r.command, 'disconnect');
    assert.equal(r.success, true);
    r = await c.next();
    assert.equal(r.event, 'terminated');
    const { code } = await srv.exited;
    assert.equal(code, 0);
  } finally {
    srv.proc.kill('SIGKILL');
  }
});

test('a 100 MB message closes the connection (as dlv) and the server exits cleanly', async () => {
  const srv = await startServer();
  try {
    const c = rawClient(srv.port);
    c.sendRaw(`Content-Length: ${100 * 1024 * 1024}\r\n\r\n{"seq":1,`);
    const r = await c.next();
    assert.equal(r, 'closed');
    const { code } = await srv.exited;
    assert.equal(code, 0);
  } finally {
    srv.proc.kill('SIGKILL');
  }
});

test('a client that vanishes mid-session: the server ends the session and exits', async () => {
  const srv = await startServer();
  try {
    const c = rawClient(srv.port);
    c.send({ seq: 1, type: 'request', command: 'initialize', arguments: {} });
    await c.next();
    c.sock.destroy();
    const { code } = await srv.exited;
    assert.equal(code, 0);
  } finally {
    srv.proc.kill('SIGKILL');
  }
});
