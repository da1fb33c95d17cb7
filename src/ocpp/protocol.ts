/** OCPP-J subprotocols Ampline speaks, newest first (the order of preference when a charger offers several). */
export const PROTOCOLS = ['ocpp2.0.1', 'ocpp1.6'] as const;
export type OcppProtocol = (typeof PROTOCOLS)[number];

export function isOcppProtocol(x: unknown): x is OcppProtocol {
  return typeof x === 'string' && (PROTOCOLS as readonly string[]).includes(x);
}
