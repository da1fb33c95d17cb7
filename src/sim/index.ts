/** Public API of Ampline's charge-point simulator (OCPP 1.6J and 2.0.1). */
export { SimChargePoint, type EvseSnapshot, type StartSessionRequest } from './charge-point.js';
export { runFleet, simMain, fleetIdentity, type Fleet, type FleetOptions, type FleetConnectResult } from './fleet.js';
export { SessionRejectedError } from './errors.js';
export type { BootResponse, AuthStatus } from './driver.js';
export type { Registration } from './station.js';
export type {
  ConnectorConfig,
  EvseConfig,
  EvInput,
  PowerType,
  NeutralStopReason,
  ConnectorStatus,
  ChargingCondition,
  Responder,
  ResponderResult,
  ReconnectOptions,
  SimChargePointOptions,
  SimLogger,
  LogLevel,
} from './types.js';
// Charger-side smart-charging maths (pure; usable as a cross-check oracle).
export {
  compositeSchedule,
  compositeSegments,
  compositeLimitAt,
  profileLimitAt,
  type CompositeInput,
  type CompositeSchedule,
  type CompositePeriod,
  type CompositeSegment,
  type Profile,
  type ProfilePurpose,
  type Schedule,
  type SchedulePeriod,
  type LimitValue,
} from './composite.js';
export { from16, from201, validateProfile, ProfileStore, type ProfileRules, type ProfileRejectReason, type Check } from './profiles.js';
export { floorTenth, ampsToWatts, wattsToAmps, type Watts, type Amps, type Volts, type WattHours, type Seconds, type RateUnit } from './units.js';
