/**
 * The load generator's building blocks: light ocpp-rpc clients (no reconnect, no client-side pings,
 * no permessage-deflate, no strict-mode validation) and realistic OCPP payloads.
 */
import ocppRpc from 'ocpp-rpc';

export type Client = InstanceType<typeof ocppRpc.RPCClient>;
export type Protocol = 'ocpp1.6' | 'ocpp2.0.1';

export interface ClientOptions {
  /**
   * Per-call timeout inside ocpp-rpc; 0 (the default here) = none. ocpp-rpc arms a timers/promises
   * timer with an AbortController for every call that has one, which costs the generator ≈ 100 µs of
   * CPU per call (measured: 155 → 45 µs per Heartbeat round trip) and made the generator, not the
   * server, the bottleneck. The benchmarks bound time themselves instead (deadline → close sockets →
   * pending calls reject).
   */
  callTimeoutMs?: number;
}

/** A charge point that is nothing but a socket: created and connected, or the promise rejects. */
export async function connectStation(ocppUrl: string, identity: string, protocol: Protocol, opts: ClientOptions = {}): Promise<Client> {
  const cli = new ocppRpc.RPCClient({
    endpoint: ocppUrl,
    identity,
    protocols: [protocol],
    reconnect: false,
    // ocpp-rpc pings from the client too unless told otherwise; the server pings every 30 s anyway.
    pingIntervalMs: 86_400_000,
    callTimeoutMs: opts.callTimeoutMs ?? 0,
    callConcurrency: 1,
    strictMode: false,
    wsOpts: { perMessageDeflate: false },
  });
  // ocpp-rpc emits 'error' for socket errors; an unhandled 'error' event would crash the generator.
  cli.on('error', () => undefined);
  try {
    await cli.connect();
  } catch (err) {
    void cli.close({ force: true }).catch(() => undefined);
    throw err;
  }
  return cli;
}

/** Close many clients quickly (TCP close, no waiting for pending calls). */
export async function closeAll(clients: Iterable<Client | undefined>): Promise<void> {
  const ps: Promise<unknown>[] = [];
  for (const c of clients) if (c) ps.push(c.close({ code: 1000, force: true }).catch(() => undefined));
  await Promise.all(ps);
}

export const nowIso = (): string => new Date().toISOString();

export function boot16(): object {
  return { chargePointVendor: 'Ampline-Bench', chargePointModel: 'LoadGen-16', firmwareVersion: '1.0.0', chargePointSerialNumber: 'SN-BENCH' };
}

export function boot201(): object {
  return {
    reason: 'PowerUp',
    chargingStation: { vendorName: 'Ampline-Bench', model: 'LoadGen-201', firmwareVersion: '1.0.0', serialNumber: 'SN-BENCH' },
  };
}

export function status16(connectorId: number): object {
  return { connectorId, status: 'Available', errorCode: 'NoError', timestamp: nowIso() };
}

export function status201(evseId: number, connectorId: number): object {
  return { timestamp: nowIso(), connectorStatus: 'Available', evseId, connectorId };
}

/** Electrical state of one simulated EVSE, advanced on every meter sample. */
export class MeterState {
  energyWh = 1_000 + Math.floor(Math.random() * 50_000);
  soc = 20 + Math.floor(Math.random() * 30);
  private readonly currentA = 16 + Math.random() * 16;

  next(): { energyWh: number; powerW: number; currents: [number, number, number]; voltages: [number, number, number]; soc: number } {
    const i = (k: number) => Math.round((this.currentA + Math.sin(this.energyWh / 997 + k) * 0.4) * 10) / 10;
    const v = (k: number) => Math.round((230 + Math.sin(this.energyWh / 389 + k) * 3) * 10) / 10;
    const currents: [number, number, number] = [i(0), i(2), i(4)];
    const voltages: [number, number, number] = [v(0), v(1), v(2)];
    const powerW = Math.round(currents[0] * voltages[0] + currents[1] * voltages[1] + currents[2] * voltages[2]);
    this.energyWh += Math.max(1, Math.round(powerW / 360)); // ≈ 10 s worth per sample
    if (this.soc < 100 && Math.random() < 0.05) this.soc++;
    return { energyWh: this.energyWh, powerW, currents, voltages, soc: this.soc };
  }
}

/** Sampled values per meter value: energy, power, current ×3, voltage ×3, SoC, power offered. */
export const SAMPLES_PER_MESSAGE = 10;

/** The SAMPLES_PER_MESSAGE readings of one meter tick, version-neutral: [value, measurand, unit, extra]. */
type Reading = [value: number, measurand: string, unit: string, extra?: Record<string, string>];

function readings(m: MeterState): Reading[] {
  const s = m.next();
  return [
    [s.energyWh, 'Energy.Active.Import.Register', 'Wh'],
    [s.powerW, 'Power.Active.Import', 'W'],
    [s.currents[0], 'Current.Import', 'A', { phase: 'L1' }],
    [s.currents[1], 'Current.Import', 'A', { phase: 'L2' }],
    [s.currents[2], 'Current.Import', 'A', { phase: 'L3' }],
    [s.voltages[0], 'Voltage', 'V', { phase: 'L1-N' }],
    [s.voltages[1], 'Voltage', 'V', { phase: 'L2-N' }],
    [s.voltages[2], 'Voltage', 'V', { phase: 'L3-N' }],
    [s.soc, 'SoC', 'Percent', { location: 'EV' }],
    // The 10th sample: the power offered to the EV (what smart charging reads back).
    [Math.round(s.powerW * 1.05), 'Power.Offered', 'W'],
  ];
}

/** One 1.6 MeterValue with SAMPLES_PER_MESSAGE sampled values (string values, `unit`). */
export function meterValue16(m: MeterState): object {
  return {
    timestamp: nowIso(),
    sampledValue: readings(m).map(([value, measurand, unit, extra]) => ({
      value: String(value),
      context: 'Sample.Periodic',
      format: 'Raw',
      measurand,
      unit,
      location: 'Outlet',
      ...extra,
    })),
  };
}

/** One 2.0.1 MeterValue with SAMPLES_PER_MESSAGE sampled values (numeric values, `unitOfMeasure`). */
export function meterValue201(m: MeterState): object {
  return {
    timestamp: nowIso(),
    sampledValue: readings(m).map(([value, measurand, unit, extra]) => ({
      value,
      context: 'Sample.Periodic',
      measurand,
      location: 'Outlet',
      unitOfMeasure: { unit },
      ...extra,
    })),
  };
}
