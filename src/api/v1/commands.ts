/**
 * Commands: the generic `POST /api/v1/stations/{id}/commands/{Action}` for every CSMS-initiated action
 * of both versions (payload in the station's version, validated against the OCA schema before anything
 * is sent), and the version-neutral commands of commands-neutral.ts.
 *
 * Synchronous by default: the request waits (bounded) for the station's answer. With `callbackUrl` the
 * answer is 202 {commandId} at once; the result is POSTed to the URL (10 s per try, 3 tries with backoff)
 * and kept in memory for `GET /api/v1/commands/{commandId}` (the last 10,000 commands of this node:
 * it is not shared between nodes and does not survive a restart).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../../store/schema.js';
import type { CommandService } from '../../services/commands.js';
import type { SmartChargingService } from '../../services/smart-charging.js';
import { CallTimeoutError, ChargerCallError, StationOfflineError } from '../../ocpp/errors.js';
import { validatePayload } from '../../ocpp/schemas.js';
import { PROTOCOLS, type OcppProtocol } from '../../ocpp/protocol.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import { ApiError, toApiError } from '../errors.js';
import { ALL_CSMS_ACTIONS, CSMS_ACTIONS, OCA_SCHEMAS, VERSION_TAG } from './actions.js';
import { NEUTRAL_COMMANDS, type PlannedCommand } from './commands-neutral.js';
import { type JsonSchema, type RouteSpec, nullable, ref } from './http.js';

export interface CommandRouteDeps {
  db: Kysely<Database>;
  commands: CommandService;
  /** Remote start with a charging profile goes through it (validated, recorded in the shadow). */
  smart: SmartChargingService;
  clock: Clock;
  log: Logger;
  /** Default bound on the wait for the station's answer. */
  timeoutMs: number;
  /** Delays before the 2nd and 3rd callback try (default 1 s, 3 s). */
  callbackBackoffMs?: readonly number[];
}

export type CommandOutcome = 'Answered' | 'Timeout' | 'CallError' | 'Offline' | 'InvalidResponse' | 'Error';

export interface CommandRecord {
  commandId: string;
  stationId: string;
  action: string;
  protocol: OcppProtocol;
  status: 'Pending' | CommandOutcome;
  response?: Record<string, unknown>;
  error?: { code: string; message: string; errorCode?: string; errorDescription?: string };
  createdAt: string;
  completedAt?: string;
  callback: { delivered: boolean; attempts: number; lastError?: string };
}

/** Bounded in-memory store, least recently written evicted first. */
export class CommandResults {
  private readonly map = new Map<string, CommandRecord>();
  constructor(private readonly max = 10_000) {}
  put(r: CommandRecord): void {
    this.map.delete(r.commandId);
    this.map.set(r.commandId, r);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
  get(id: string): CommandRecord | undefined {
    return this.map.get(id);
  }
  get size(): number {
    return this.map.size;
  }
}

const CALLBACK_TIMEOUT_MS = 10_000;
const CALLBACK_TRIES = 3;
const DEFAULT_BACKOFF_MS = [1_000, 3_000];

// --- schemas --------------------------------------------------------------------------------------

const commonProps = {
  timeoutS: { type: 'integer', minimum: 1, maximum: 600, description: 'Bound on the wait for the station (default: AMPLINE_API_COMMAND_TIMEOUT_S).' },
  callbackUrl: {
    type: 'string',
    format: 'uri',
    maxLength: 2048,
    pattern: '^[hH][tT][tT][pP][sS]?://',
    examples: ['https://example.com/ampline/command-results'],
    description: 'Answer 202 at once and POST the result here (http or https) instead of waiting.',
  },
};

const genericBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    payload: { type: 'object', default: {}, description: "The OCPP request in the station's version." },
    ...commonProps,
  },
};

const stationParams = { id: { type: 'string', minLength: 1, maxLength: 255, description: 'Charging station identity.' } };

export const commandComponents: Record<string, JsonSchema> = {
  CommandAnswer: {
    type: 'object',
    required: ['status', 'stationId', 'action', 'protocol', 'response'],
    properties: {
      status: { type: 'string', const: 'Answered' },
      stationId: { type: 'string' },
      action: { type: 'string', description: 'The OCPP action sent.' },
      protocol: { type: 'string', enum: [...PROTOCOLS] },
      response: { type: 'object', description: "The station's CALLRESULT payload." },
    },
  },
  CommandAccepted: {
    type: 'object',
    required: ['commandId', 'status'],
    properties: { commandId: { type: 'string', format: 'uuid' }, status: { type: 'string', const: 'Pending' } },
  },
  CommandResult: {
    type: 'object',
    description: 'The state of an asynchronous command; also the body POSTed to the callback URL (without `callback`).',
    required: ['commandId', 'stationId', 'action', 'protocol', 'status', 'createdAt'],
    properties: {
      commandId: { type: 'string', format: 'uuid' },
      stationId: { type: 'string' },
      action: { type: 'string' },
      protocol: { type: 'string', enum: [...PROTOCOLS] },
      status: { type: 'string', enum: ['Pending', 'Answered', 'Timeout', 'CallError', 'Offline', 'InvalidResponse', 'Error'] },
      response: { type: 'object', description: "The station's CALLRESULT payload (status Answered)." },
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: { type: 'string' }, message: { type: 'string' }, errorCode: { type: 'string' }, errorDescription: { type: 'string' } },
      },
      createdAt: { type: 'string', format: 'date-time' },
      completedAt: { type: 'string', format: 'date-time' },
      callback: {
        type: 'object',
        properties: { delivered: { type: 'boolean' }, attempts: { type: 'integer' }, lastError: nullable('string') },
      },
    },
  },
};

/** The documented body of the generic route for one action: the OCA request schema(s) of each version having it. */
function docBodyFor(action: string): JsonSchema {
  const variants = PROTOCOLS.filter((p) => CSMS_ACTIONS[p].has(action)).map((p) => ref(`${VERSION_TAG[p]}.${action}Request`));
  const payload = variants.length === 1 ? variants[0]! : { oneOf: variants };
  return {
    ...genericBody,
    required: ['payload'],
    properties: { ...genericBody.properties, payload: { ...payload, description: "The OCPP request in the station's version (validated against the OCA schema)." } },
  };
}

function docAnswerFor(action: string): JsonSchema {
  const variants = PROTOCOLS.filter((p) => CSMS_ACTIONS[p].has(action) && OCA_SCHEMAS[p][`${action}Response`]).map((p) => ref(`${VERSION_TAG[p]}.${action}Response`));
  return {
    allOf: [ref('CommandAnswer'), { type: 'object', properties: { response: variants.length === 1 ? variants[0]! : { oneOf: variants } } }],
  };
}

// --- routes ---------------------------------------------------------------------------------------

export function commandRoutes(deps: CommandRouteDeps): { routes: RouteSpec[]; results: CommandResults; close(): void } {
  const { commands, log } = deps;
  const results = new CommandResults();
  const closing = new AbortController();
  const backoff = deps.callbackBackoffMs ?? DEFAULT_BACKOFF_MS;

  /** The catalogue's error for `err`; anything unexpected is logged before it becomes a bare Internal. */
  function apiErrorOf(err: unknown): ApiError {
    const api = toApiError(err);
    if (api.code === 'Internal') log.error({ err }, 'api/v1 command failed');
    return api;
  }

  function outcomeOf(err: unknown): Pick<CommandRecord, 'status' | 'error'> {
    const api = toApiError(err);
    const error = { code: api.code, message: api.message, ...(api.details as { errorCode?: string; errorDescription?: string }) };
    if (err instanceof CallTimeoutError) return { status: 'Timeout', error };
    if (err instanceof ChargerCallError) return { status: 'CallError', error };
    if (err instanceof StationOfflineError) return { status: 'Offline', error };
    if (api.code === 'ChargerInvalidResponse') return { status: 'InvalidResponse', error };
    return { status: 'Error', error };
  }

  async function deliver(url: string, rec: CommandRecord): Promise<void> {
    const { callback: _c, ...body } = rec;
    const text = JSON.stringify(body);
    const target = safeUrl(url);
    for (let attempt = 1; attempt <= CALLBACK_TRIES && !closing.signal.aborted; attempt++) {
      rec.callback.attempts = attempt;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'ampline-csms', 'x-ampline-command-id': rec.commandId },
          body: text,
          redirect: 'error',
          signal: AbortSignal.any([AbortSignal.timeout(CALLBACK_TIMEOUT_MS), closing.signal]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          rec.callback.delivered = true;
          delete rec.callback.lastError;
          return;
        }
        rec.callback.lastError = `HTTP ${res.status}`;
      } catch (err) {
        rec.callback.lastError = (err as Error).name === 'TimeoutError' ? 'timeout' : ((err as Error).message ?? String(err));
      }
      log.warn({ commandId: rec.commandId, callback: target, attempt, error: rec.callback.lastError }, 'command callback delivery failed');
      if (attempt < CALLBACK_TRIES) await sleep(backoff[attempt - 1] ?? backoff[backoff.length - 1] ?? 1000, closing.signal);
    }
    if (!rec.callback.delivered) log.error({ commandId: rec.commandId, callback: target }, 'command callback given up');
  }

  /** Run a planned command: wait for the answer, or 202 and finish in the background. */
  async function execute(
    req: FastifyRequest,
    reply: FastifyReply,
    stationId: string,
    protocol: OcppProtocol,
    plan: PlannedCommand,
    body: { timeoutS?: number; callbackUrl?: string },
  ): Promise<unknown> {
    const opts = { timeoutMs: body.timeoutS !== undefined ? body.timeoutS * 1000 : deps.timeoutMs };
    if (body.callbackUrl === undefined) {
      try {
        const response = await plan.run(opts);
        return { status: 'Answered', stationId, action: plan.action, protocol, response };
      } catch (err) {
        throw apiErrorOf(err);
      }
    }
    const callbackUrl = body.callbackUrl;
    const rec: CommandRecord = {
      commandId: randomUUID(),
      stationId,
      action: plan.action,
      protocol,
      status: 'Pending',
      createdAt: deps.clock.now().toISOString(),
      callback: { delivered: false, attempts: 0 },
    };
    results.put(rec);
    void (async () => {
      try {
        rec.response = await plan.run(opts);
        rec.status = 'Answered';
      } catch (err) {
        Object.assign(rec, outcomeOf(err));
        if (rec.status === 'Error') log.error({ err, commandId: rec.commandId }, 'asynchronous command failed');
      }
      rec.completedAt = deps.clock.now().toISOString();
      results.put(rec);
      await deliver(callbackUrl, rec);
    })().catch((err: unknown) => log.error({ err, commandId: rec.commandId }, 'asynchronous command bookkeeping failed'));
    void req;
    reply.code(202).header('location', `/api/v1/commands/${rec.commandId}`);
    return { commandId: rec.commandId, status: 'Pending' };
  }

  const answers = {
    200: { description: "The station's answer.", schema: ref('CommandAnswer') },
    202: { description: 'Accepted for asynchronous execution (with `callbackUrl`).', schema: ref('CommandAccepted') },
  };
  const commandErrors = [404, 409, 424, 502, 504];

  const generic: RouteSpec = {
    method: 'POST',
    url: '/api/v1/stations/:id/commands/:action',
    operationId: 'sendOcppCommand',
    summary: 'Send any CSMS-initiated OCPP action',
    tag: 'Commands',
    scope: 'command',
    hidden: true, // documented once per action below
    schema: {
      params: {
        type: 'object',
        required: ['id', 'action'],
        additionalProperties: false,
        properties: { ...stationParams, action: { type: 'string', minLength: 1, maxLength: 64 } },
      },
      body: genericBody,
    },
    responses: answers,
    errors: commandErrors,
    async handler(req, reply) {
      const { id, action } = req.params as { id: string; action: string };
      const body = req.body as { payload: Record<string, unknown>; timeoutS?: number; callbackUrl?: string };
      if (!ALL_CSMS_ACTIONS.includes(action)) {
        throw new ApiError('UnknownCommand', `'${action}' is not an OCPP action the CSMS sends (actions are case-sensitive, e.g. Reset)`);
      }
      const protocol = await commands.target(id).catch((err: unknown) => Promise.reject(apiErrorOf(err)));
      if (!CSMS_ACTIONS[protocol].has(action)) {
        throw new ApiError('UnknownCommand', `'${action}' is not an OCPP ${protocol.slice(4)} action the CSMS sends; '${id}' speaks ${protocol}`);
      }
      const v = validatePayload(protocol, action, 'req', body.payload);
      if (!v.ok) throw new ApiError('InvalidOcppRequest', `${action} payload is not valid ${protocol}: ${v.message}`);
      const plan: PlannedCommand = { action, run: (o) => commands.send(id, action, body.payload, o) };
      return execute(req, reply, id, protocol, plan, body);
    },
  };

  const perAction: RouteSpec[] = ALL_CSMS_ACTIONS.map((action) => {
    const versions = PROTOCOLS.filter((p) => CSMS_ACTIONS[p].has(action));
    return {
      ...generic,
      url: `/api/v1/stations/:id/commands/${action}`,
      operationId: `send${action}`,
      summary: `${action} (${versions.map((p) => `OCPP ${p.slice(4)}`).join(', ')})`,
      description:
        `Sends ${action} to the station in its own version. \`payload\` is validated against the OCA ${versions.map((p) => VERSION_TAG[p]).join(' / ')} ` +
        `schema first (400 InvalidOcppRequest, nothing sent). Answers 200 with the station's CALLRESULT, 502 on a CALLERROR, 504 on timeout; ` +
        `with \`callbackUrl\`, 202 and the result POSTed later.`,
      schema: { params: { type: 'object', required: ['id'], additionalProperties: false, properties: stationParams }, body: genericBody },
      docBody: docBodyFor(action),
      responses: { ...answers, 200: { description: "The station's answer.", schema: docAnswerFor(action) } },
      hidden: false,
      docOnly: true, // served by the parametric route above
    };
  });

  const neutral: RouteSpec[] = NEUTRAL_COMMANDS.map((cmd) => ({
    method: 'POST',
    url: `/api/v1/stations/:id/commands/${cmd.name}`,
    operationId: `command_${cmd.name.replace(/-/g, '_')}`,
    summary: cmd.summary,
    description: `${cmd.description}\n\nSends ${cmd.actions['ocpp1.6']} (OCPP 1.6) / ${cmd.actions['ocpp2.0.1']} (OCPP 2.0.1).`,
    tag: 'Commands (version-neutral)',
    scope: 'command',
    schema: {
      params: { type: 'object', required: ['id'], additionalProperties: false, properties: stationParams },
      body: { type: 'object', additionalProperties: false, ...(cmd.required ? { required: cmd.required } : {}), properties: { ...cmd.properties, ...commonProps } },
    },
    responses: answers,
    errors: [...commandErrors, ...(cmd.errors ?? [])].sort((a, b) => a - b),
    async handler(req, reply) {
      const { id } = req.params as { id: string };
      const body = req.body as Record<string, unknown> & { timeoutS?: number; callbackUrl?: string };
      const protocol = await commands.target(id).catch((err: unknown) => Promise.reject(apiErrorOf(err)));
      const plan = await cmd.plan({ db: deps.db, commands, smart: deps.smart, stationId: id, protocol }, body).catch((err: unknown) => Promise.reject(apiErrorOf(err)));
      return execute(req, reply, id, protocol, plan, body);
    },
  }));

  const status: RouteSpec = {
    method: 'GET',
    url: '/api/v1/commands/:commandId',
    operationId: 'getCommand',
    summary: 'The state or result of an asynchronous command',
    description: 'Kept in memory on the node that accepted the command: the most recent 10,000; lost on restart.',
    tag: 'Commands',
    scope: 'command',
    schema: { params: { type: 'object', required: ['commandId'], additionalProperties: false, properties: { commandId: { type: 'string', minLength: 1, maxLength: 64 } } } },
    responses: { 200: { description: 'The command.', schema: ref('CommandResult') } },
    errors: [404],
    async handler(req) {
      const { commandId } = req.params as { commandId: string };
      const rec = results.get(commandId);
      if (!rec) throw new ApiError('NotFound', `Unknown command '${commandId}' (results are kept in memory on the accepting node only)`);
      return rec;
    },
  };

  return { routes: [...neutral, ...perAction, generic, status], results, close: () => closing.abort() };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The callback URL for logs: no credentials, no query string. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}
