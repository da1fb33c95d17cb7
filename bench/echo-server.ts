/**
 * Baseline for the heartbeat benchmark: a bare ocpp-rpc RPCServer with no validation, no database and
 * no logging. It accepts every upgrade, answers Heartbeat with currentTime, BootNotification with
 * Accepted, and any other action with {}. Same loader (tsx), process model and transport options as
 * Ampline's server (ocpp-rpc RPCServer on a Node http server, permessage-deflate off, 30 s pings).
 *
 *   node --import tsx bench/echo-server.ts     (listens on 127.0.0.1, a free port)
 */
import ocppRpc, { type RPCServerClient } from 'ocpp-rpc';

const server = new ocppRpc.RPCServer({
  protocols: ['ocpp2.0.1', 'ocpp1.6'],
  callTimeoutMs: 30_000,
  pingIntervalMs: 30_000,
  callConcurrency: 1,
  strictMode: false,
  respondWithDetailedErrors: false,
  wssOptions: { maxPayload: 1024 * 1024, perMessageDeflate: false },
});
server.auth((accept) => accept({}));
server.on('client', (client: RPCServerClient) => {
  client.handle('Heartbeat', () => ({ currentTime: new Date().toISOString() }));
  client.handle('BootNotification', () => ({ status: 'Accepted', currentTime: new Date().toISOString(), interval: 86400 }));
  client.handle(() => ({}));
});

const http = await server.listen(0, '127.0.0.1');
const addr = http.address();
process.stdout.write(`baseline listening on ${typeof addr === 'object' && addr ? addr.port : '?'}\n`);

const stop = () => {
  server.close({ force: true }).finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
