/**
 * The keep-alive HTTP client behind the SCSP client (src/util/http-pool.ts) and ScspClient on top of
 * it: connections reused and bounded per origin, answers (status, headers, text) as sent, the deadline
 * without a timer per call, a stale keep-alive connection retried once on a fresh one, and the SCSP
 * client's contract (JSON body, Bearer + ApiKey + Idempotency-Key, 401 → one token refresh, no answer →
 * status 0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { HttpPool, HttpTimeoutError } from '../src/util/http-pool.js';
import { ScspClient } from '../src/scsp-link/client.js';
import { OAuthClient } from '../src/scsp-link/oauth.js';
import type { Partner } from '../src/scsp-link/partners.js';
import { silentLogger } from '../src/util/log.js';
import { systemClock } from '../src/util/clock.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function server(handler: Handler): Promise<{ url: string; connections: () => number; close(): Promise<void>; srv: Server }> {
  let connections = 0;
  const srv = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  srv.on('connection', () => connections++);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    connections: () => connections,
    srv,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

test('HttpPool: status, headers and text as sent; keep-alive reuse; at most maxSocketsPerOrigin connections', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const s = await server((req, body, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      const out = JSON.stringify({ method: req.method, path: req.url, body, ct: req.headers['content-type'], len: req.headers['content-length'] });
      res.writeHead(req.url === '/teapot' ? 418 : 201, { 'content-type': 'application/json', 'x-extra': 'yes' });
      res.end(out);
    }, 5);
  });
  const pool = new HttpPool({ maxSocketsPerOrigin: 4 });
  try {
    const r = await pool.request(`${s.url}/a/b?x=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ä":1}', timeoutMs: 5000 });
    assert.equal(r.status, 201);
    assert.equal(r.headers['x-extra'], 'yes');
    assert.deepEqual(JSON.parse(r.text), { method: 'POST', path: '/a/b?x=1', body: '{"ä":1}', ct: 'application/json', len: String(Buffer.byteLength('{"ä":1}')) });
    assert.equal((await pool.request(`${s.url}/teapot`, { method: 'POST', headers: {}, body: '', timeoutMs: 5000 })).status, 418);
    for (let i = 0; i < 20; i++) await pool.request(`${s.url}/seq`, { method: 'POST', headers: {}, body: 'x', timeoutMs: 5000 });
    assert.equal(s.connections(), 1, 'sequential requests share one connection');
    const all = await Promise.all(Array.from({ length: 40 }, () => pool.request(`${s.url}/par`, { method: 'POST', headers: {}, body: 'y', timeoutMs: 5000 })));
    assert.ok(all.every((x) => x.status === 201));
    assert.ok(maxInFlight <= 4, `at most 4 requests at the server at once (saw ${maxInFlight})`);
    assert.ok(s.connections() <= 4, `at most 4 connections (saw ${s.connections()})`);
    const socks = Object.values(pool.sockets())[0]!;
    assert.equal(socks.active, 0);
    assert.ok(socks.idle >= 1 && socks.idle <= 4);
    // The limit can be lowered (or raised) on a live pool.
    pool.setMaxSocketsPerOrigin(2);
    maxInFlight = 0;
    await Promise.all(Array.from({ length: 20 }, () => pool.request(`${s.url}/par`, { method: 'POST', headers: {}, body: 'z', timeoutMs: 5000 })));
    assert.ok(maxInFlight <= 2, `at most 2 requests at the server at once (saw ${maxInFlight})`);
  } finally {
    pool.close();
    await s.close();
  }
});

test('HttpPool: a request without a complete answer fails after its deadline; the pool keeps working', async () => {
  const s = await server((req, _body, res) => {
    if (req.url === '/hang') return; // never answers
    res.end('ok');
  });
  const pool = new HttpPool({ tickMs: 50 });
  try {
    const t0 = Date.now();
    await assert.rejects(pool.request(`${s.url}/hang`, { method: 'POST', headers: {}, body: 'x', timeoutMs: 200 }), HttpTimeoutError);
    const took = Date.now() - t0;
    assert.ok(took >= 190 && took < 1500, `timed out after ${took} ms`);
    assert.equal((await pool.request(`${s.url}/ok`, { method: 'POST', headers: {}, timeoutMs: 1000 })).text, 'ok');
  } finally {
    pool.close();
    await s.close();
  }
});

test('HttpPool: a keep-alive connection the server dropped is replaced, and the request sent once more', async () => {
  // A bare HTTP/1.1 server: on every connection it answers the first request and drops the connection
  // when the second one arrives, without answering (an idle-timeout race on a real server).
  let connections = 0;
  let requests = 0;
  const sockets = new Set<Socket>();
  const srv = createNetServer((sock) => {
    connections++;
    sockets.add(sock);
    let seen = 0;
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        const head = buf.slice(0, buf.indexOf('\r\n\r\n'));
        const len = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < head.length + 4 + len) return;
        buf = buf.slice(head.length + 4 + len);
        requests++;
        if (++seen === 1) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
        else return sock.destroy();
      }
    });
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/x`;
  const pool = new HttpPool({ maxSocketsPerOrigin: 1 });
  try {
    assert.equal((await pool.request(url, { method: 'POST', headers: {}, body: 'a', timeoutMs: 5000 })).text, 'ok');
    const second = await pool.request(url, { method: 'POST', headers: {}, body: 'b', timeoutMs: 5000 });
    assert.equal(second.text, 'ok');
    assert.equal(connections, 2, 'a fresh connection for the repeat');
    assert.equal(requests, 3, 'sent on the stale connection, then once more');
  } finally {
    pool.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

test('ScspClient over the pool: headers and JSON body, one token refresh on 401, no answer → status 0', async () => {
  let tokens = 0;
  const valid = new Set<string>();
  const seen: Array<{ auth: string | undefined; apikey: string | undefined; key: string | undefined; ct: string | undefined; body: string }> = [];
  let revokeNext = false;
  const s = await server((req, body, res) => {
    const json = (status: number, o: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(o));
    };
    if (req.url === '/oauth/token') {
      const form = new URLSearchParams(body);
      if (form.get('grant_type') !== 'client_credentials' || !/^Basic /.test(req.headers.authorization ?? '')) return json(400, { error: 'invalid_request' });
      const t = `tok-${++tokens}`;
      valid.add(t);
      return json(200, { access_token: t, token_type: 'Bearer', expires_in: 3600 });
    }
    if (req.url === '/hang/v1/x') return;
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    seen.push({ auth: bearer, apikey: req.headers.apikey as string | undefined, key: req.headers['idempotency-key'] as string | undefined, ct: req.headers['content-type'], body });
    if (revokeNext) {
      revokeNext = false;
      valid.clear();
    }
    if (!bearer || !valid.has(bearer)) return json(401, { message: 'Unauthorized' });
    if (req.url === '/text/v1/x') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('plain words');
    }
    return json(200, { message: 'OK' });
  });
  const partner: Partner = {
    id: 'p1',
    name: 'p1',
    baseUrl: s.url,
    tokenUrl: `${s.url}/oauth/token`,
    clientId: 'cid',
    clientSecret: 'secret',
    apiKey: 'the-api-key',
    payloadProtocol: 'ocpp2.0.1',
    enabled: true,
    sessionData: 'ocpp',
  };
  const oauth = new OAuthClient({ clock: systemClock });
  const client = new ScspClient({ oauth, log: silentLogger(), timeoutMs: 300 });
  try {
    const ok = await client.post(partner, '/v1/x', { a: 1 }, { idempotencyKey: 'k-1' });
    assert.deepEqual(ok, { status: 200, body: { message: 'OK' } });
    assert.deepEqual(seen[0], { auth: 'tok-1', apikey: 'the-api-key', key: 'k-1', ct: 'application/json', body: '{"a":1}' });

    revokeNext = true; // the token is refused: a fresh one, and the request once more
    const again = await client.post(partner, '/v1/x', { b: 2 });
    assert.equal(again.status, 200);
    assert.deepEqual(seen.slice(1).map((x) => [x.auth, x.key]), [['tok-1', undefined], ['tok-2', undefined]]);
    assert.equal(tokens, 2);

    const text = await client.post({ ...partner, baseUrl: `${s.url}/text` }, '/v1/x', {});
    assert.deepEqual(text, { status: 200, body: 'plain words' });

    const hang = await client.post({ ...partner, baseUrl: `${s.url}/hang` }, '/v1/x', {});
    assert.equal(hang.status, 0);
    assert.match(hang.error ?? '', /no complete answer within 300 ms/);

    const down = await client.post({ ...partner, baseUrl: 'http://127.0.0.1:1' }, '/v1/x', {});
    assert.equal(down.status, 0);
    assert.ok(down.error);
  } finally {
    client.close();
    oauth.close();
    await s.close();
  }
});
