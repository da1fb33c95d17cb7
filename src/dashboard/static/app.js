// @ts-check
/**
 * Ampline live dashboard (browser side, one ES module, no dependencies, no network beyond this origin).
 *
 * - Sign-in: a management API key with the `read` scope, kept in sessionStorage (this tab only) and sent
 *   as the X-API-Key header. 401/403 bring the sign-in form back.
 * - Data: GET /dashboard/api/state once, then the Server-Sent Events of /dashboard/api/events, read with
 *   fetch() so the key travels in a header, never in a URL (EventSource cannot send headers). Each
 *   `snapshot` event is the whole state; the stream reconnects with backoff when it drops.
 * - Rendering: everything through textContent / createElement (no innerHTML: station ids and vendor
 *   strings come from chargers). The chart is hand-rolled SVG: step lines of power and of the limit in
 *   force over the last N minutes, from samples this page collects while it is open.
 */

/**
 * @typedef {{ connectorId: number, status: string, ocppStatus: string, errorCode: string | null }} Connector
 * @typedef {{ evseId: number, status: string, connectors: Connector[], sessionId: string | null, powerW: number | null }} Evse
 * @typedef {{ partnerId: string, payloadProtocol: string, origin: string, pairedAt: string }} Pairing
 * @typedef {{ id: string, protocol: string | null, online: boolean, registrationStatus: string | null, vendor: string | null,
 *   model: string | null, lastSeenAt: string | null, siteId: string | null, pairing: Pairing | null,
 *   outbox: { pending: number, dead: number }, evses: Evse[] }} Station
 * @typedef {{ limitW: number, numberPhases?: number, basis: string, sources: string[], changesAt: string | null, stale: boolean }} Limit
 * @typedef {{ id: string, stationId: string, evseId: number, connectorId: number | null, idToken: string | null, startedAt: string,
 *   chargingState: string | null, powerW: number | null, energyWh: number | null, soc: number | null, stationOnline: boolean,
 *   limit: Limit | null }} Session
 * @typedef {{ L1: number, L2: number, L3: number }} PerPhase
 * @typedef {{ id: string, limit: { perPhaseA: PerPhase, marginA: number } | { totalPowerW: number, marginW: number }, voltage: number,
 *   tickS: number, stations: string[], measuredPerPhaseA: PerPhase,
 *   lastTick: { at: string, baseLoad: string, minimumsFit: boolean, budget: { perPhaseA?: PerPhase, totalPhaseA?: number },
 *     allocatedPerPhaseA: PerPhase, allocatedPhaseA: number,
 *     allocations: Array<{ stationId: string, evseId: number, allocatedA: number, change: string, pausedBecause: string | null }> } | null }} Site
 * @typedef {{ partnerId: string, name: string, enabled: boolean, pending: number, dead: number, oldestPendingAt: string | null }} PartnerBacklog
 * @typedef {{ generatedAt: string, node: string,
 *   totals: { stations: number, stationsOnline: number, sessions: number, powerW: number, limitW: number },
 *   stations: Station[], sessions: Session[], sites: Site[],
 *   outbox: { pending: number, dead: number, oldestPendingAt: string | null, partners: PartnerBacklog[] },
 *   truncated: { stations: boolean, staleLimits: number } }} Snapshot
 * @typedef {{ t: number, p: number, l: number | null }} Sample
 */

const KEY_STORAGE = 'ampline.dashboard.apiKey';
const HISTORY_MS = 60 * 60 * 1000;
const MAX_SAMPLES = 4000;

/** @param {string} id */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

/**
 * @param {string} tag
 * @param {{ className?: string, text?: string, attrs?: Record<string, string> }} [opts]
 * @param {Array<Node | string>} [children]
 */
function h(tag, opts = {}, children = []) {
  const el = document.createElement(tag);
  if (opts.className) el.className = opts.className;
  if (opts.text !== undefined) el.textContent = opts.text;
  for (const [k, v] of Object.entries(opts.attrs ?? {})) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}

/** @param {number | null | undefined} w */
const kW = (w) => (w === null || w === undefined ? '–' : (w / 1000).toFixed(1));
/** @param {number | null | undefined} wh */
const kWh = (wh) => (wh === null || wh === undefined ? '–' : (wh / 1000).toFixed(2));
/** @param {string | null | undefined} iso */
const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');

// ── state ────────────────────────────────────────────────────────────────────────────────────

/** @type {string | null} */
let apiKey = sessionStorage.getItem(KEY_STORAGE);
/** @type {Snapshot | null} */
let last = null;
/** @type {AbortController | null} */
let streamCtrl = null;
let backoffMs = 1000;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let reconnectTimer;
/** Samples per series: `total` and `station/evse`. @type {Map<string, Sample[]>} */
const seriesSamples = new Map([['total', []]]);
/** Series labels for the chart selector. @type {Map<string, string>} */
const seriesLabels = new Map([['total', 'All sessions (total)']]);

// ── sign-in ──────────────────────────────────────────────────────────────────────────────────

/** @param {string} [message] */
function showLogin(message = '') {
  stopStream();
  apiKey = null;
  sessionStorage.removeItem(KEY_STORAGE);
  $('board').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  setConn('off', 'Not connected');
  /** @type {HTMLInputElement} */ ($('api-key')).focus();
}

/** @param {string} path */
async function get(path) {
  return fetch(path, { headers: { 'X-API-Key': apiKey ?? '', accept: 'application/json' }, cache: 'no-store' });
}

/** @param {Response} res */
function authProblem(res) {
  if (res.status === 401) return 'The API key was not accepted.';
  if (res.status === 403) return 'This API key lacks the read scope.';
  return null;
}

async function start() {
  $('login').hidden = true;
  setConn('wait', 'Connecting…');
  let res;
  try {
    res = await get('/dashboard/api/state');
  } catch {
    setConn('off', 'Server unreachable; retrying');
    scheduleReconnect(start);
    return;
  }
  const problem = authProblem(res);
  if (problem) return showLogin(problem);
  if (!res.ok) {
    setConn('off', `Server answered ${res.status}; retrying`);
    scheduleReconnect(start);
    return;
  }
  $('board').hidden = false;
  $('logout').hidden = false;
  apply(/** @type {Snapshot} */ (await res.json()));
  void stream();
}

// ── live stream (SSE over fetch) ─────────────────────────────────────────────────────────────

/** @param {'live' | 'wait' | 'off'} kind @param {string} text */
function setConn(kind, text) {
  const el = $('conn');
  el.className = `conn conn-${kind}`;
  el.textContent = text;
}

function stopStream() {
  if (reconnectTimer) clearTimeout(reconnectTimer);
  reconnectTimer = undefined;
  streamCtrl?.abort();
  streamCtrl = null;
}

/** @param {() => void | Promise<void>} fn */
function scheduleReconnect(fn) {
  if (reconnectTimer) clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(() => void fn(), backoffMs);
  backoffMs = Math.min(backoffMs * 2, 15000);
}

async function stream() {
  stopStream();
  const ctrl = new AbortController();
  streamCtrl = ctrl;
  try {
    const res = await fetch('/dashboard/api/events', {
      headers: { 'X-API-Key': apiKey ?? '', accept: 'text/event-stream' },
      cache: 'no-store',
      signal: ctrl.signal,
    });
    const problem = authProblem(res);
    if (problem) return showLogin(problem);
    if (!res.ok || !res.body) {
      setConn('off', res.status === 503 ? 'Too many dashboards open; retrying' : `Stream refused (${res.status}); retrying`);
    } else {
      setConn('live', 'Live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (onFrame(frame) === 'stop') return;
        }
      }
      setConn('wait', 'Stream ended; reconnecting');
    }
  } catch {
    if (ctrl.signal.aborted) return;
    setConn('wait', 'Connection lost; reconnecting');
  }
  if (streamCtrl === ctrl) scheduleReconnect(stream);
}

/** @param {string} frame @returns {'stop' | void} */
function onFrame(frame) {
  let event = 'message';
  const data = [];
  for (const line of frame.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (event === 'unauthorized') {
    showLogin('The API key is no longer valid.');
    return 'stop';
  }
  if (event === 'snapshot' && data.length > 0) {
    backoffMs = 1000;
    apply(/** @type {Snapshot} */ (JSON.parse(data.join('\n'))));
  }
}

// ── rendering ────────────────────────────────────────────────────────────────────────────────

/** @param {Snapshot} s */
function apply(s) {
  last = s;
  record(s);
  renderHeader(s);
  renderStations(s);
  renderSessions(s);
  renderSites(s);
  renderOutbox(s);
  renderChart();
  $('node').textContent = `node ${s.node} · updated ${clock(s.generatedAt)}`;
}

/** @param {Snapshot} s */
function renderHeader(s) {
  $('stat-online').textContent = String(s.totals.stationsOnline);
  $('stat-stations').textContent = String(s.totals.stations);
  $('stat-sessions').textContent = String(s.totals.sessions);
  $('stat-power').textContent = kW(s.totals.powerW);
  $('stat-limit').textContent = s.totals.sessions > 0 ? kW(s.totals.limitW) : '–';
  $('stat-outbox').textContent = s.outbox.dead > 0 ? `${s.outbox.pending} (+${s.outbox.dead} dead)` : String(s.outbox.pending);
}

/**
 * The display state of an EVSE: its connectors' status refined by the session's charging state.
 * @param {Station} st @param {Evse} e @param {Session | undefined} session
 * @returns {[string, string]} css class suffix and label
 */
function evseState(st, e, session) {
  if (!st.online) return ['offline', 'Offline'];
  switch (e.status) {
    case 'Faulted': {
      const code = e.connectors.find((c) => c.status === 'Faulted')?.errorCode;
      return ['faulted', code && code !== 'NoError' ? `Faulted (${code})` : 'Faulted'];
    }
    case 'Unavailable':
      return ['unavailable', 'Unavailable'];
    case 'Reserved':
      return ['reserved', 'Reserved'];
    case 'Available':
      return ['available', 'Available'];
    case 'Occupied': {
      const cs = session?.chargingState ?? e.connectors[0]?.ocppStatus ?? 'Occupied';
      if (cs === 'Charging') return ['charging', 'Charging'];
      if (cs === 'SuspendedEV') return ['occupied', 'Suspended by EV'];
      if (cs === 'SuspendedEVSE') return ['occupied', 'Suspended by EVSE'];
      if (cs === 'EVConnected' || cs === 'Preparing') return ['occupied', 'EV connected'];
      if (cs === 'Finishing') return ['occupied', 'Finishing'];
      return ['occupied', 'Occupied'];
    }
    default:
      return ['unknown', e.status];
  }
}

/** @param {Snapshot} s */
function renderStations(s) {
  const sessions = new Map(s.sessions.map((x) => [x.id, x]));
  const items = s.stations.map((st) => {
    const badges = [h('span', { className: `badge ${st.online ? 'badge-online' : 'badge-offline'}`, text: st.online ? 'online' : 'offline' })];
    const meta = [st.protocol ?? 'protocol unknown'];
    if (st.vendor || st.model) meta.push([st.vendor, st.model].filter(Boolean).join(' '));
    meta.push(st.pairing ? `paired with ${st.pairing.partnerId}` : 'not paired');
    if (st.siteId) meta.push(`site ${st.siteId}`);
    const backlog = [];
    if (st.outbox.pending > 0) backlog.push(h('span', { className: 'badge badge-warn', text: `${st.outbox.pending} pending`, attrs: { title: 'Outbox rows not yet delivered to the SCSP' } }));
    if (st.outbox.dead > 0) backlog.push(h('span', { className: 'badge badge-bad', text: `${st.outbox.dead} dead`, attrs: { title: 'Outbox rows given up' } }));
    const evses = st.evses.map((e) => {
      const session = e.sessionId ? sessions.get(e.sessionId) : undefined;
      const [cls, label] = evseState(st, e, session);
      const children = [h('strong', { text: `EVSE ${e.evseId}` }), h('span', { className: 'state', text: label })];
      if (session) children.push(h('span', { className: 'power', text: ` · ${kW(session.powerW)} kW` }));
      return h('li', { className: `evse st-${cls}`, attrs: { 'data-evse': String(e.evseId), 'data-state': cls } }, children);
    });
    return h('li', { className: `station${st.online ? '' : ' offline'}`, attrs: { 'data-station': st.id, 'aria-label': `Station ${st.id}` } }, [
      h('h3', {}, [h('span', { text: st.id }), h('span', {}, badges)]),
      h('p', { className: 'meta', text: meta.join(' · ') }, backlog.length > 0 ? [' ', ...backlog] : []),
      evses.length > 0 ? h('ul', { className: 'evses' }, evses) : h('p', { className: 'meta', text: 'No EVSE reported yet' }),
    ]);
  });
  $('stations').replaceChildren(...items);
  const note = $('stations-note');
  note.hidden = !s.truncated.stations;
  note.textContent = s.truncated.stations ? `Showing the first ${s.stations.length} of ${s.totals.stations} stations.` : '';
}

/** @param {Snapshot} s */
function renderSessions(s) {
  const body = $('sessions-body');
  if (s.sessions.length === 0) {
    body.replaceChildren(h('tr', {}, [h('td', { className: 'empty', text: 'No active sessions', attrs: { colspan: '10' } })]));
    return;
  }
  body.replaceChildren(
    ...s.sessions.map((x) => {
      const limit = x.limit;
      const limitCell = h('td', { className: `num${limit?.stale ? ' stale' : ''}`, text: limit ? kW(limit.limitW) : '–' });
      if (limit?.stale) limitCell.setAttribute('title', 'Not refreshed in this update');
      const by = limit ? (limit.basis === 'evse-max' ? 'EVSE maximum' : limit.sources.join(', ')) : '–';
      return h('tr', { attrs: { 'data-session': x.id, 'data-station': x.stationId } }, [
        h('td', { text: x.stationId + (x.stationOnline ? '' : ' (offline)') }),
        h('td', { text: String(x.evseId) }),
        h('td', { text: x.idToken ?? '–' }),
        h('td', { text: clock(x.startedAt) }),
        h('td', { text: x.chargingState ?? '–' }),
        h('td', { className: 'num power', text: kW(x.powerW) }),
        h('td', { className: 'num', text: kWh(x.energyWh) }),
        h('td', { className: 'num', text: x.soc === null ? '–' : String(Math.round(x.soc)) }),
        limitCell,
        h('td', { text: limit?.changesAt ? `${by} (changes ${clock(limit.changesAt)})` : by }),
      ]);
    }),
  );
}

/**
 * @param {string} id @param {string} label @param {number} used @param {number} max @param {string} text
 */
function meterRow(id, label, used, max, text) {
  const m = /** @type {HTMLMeterElement} */ (h('meter', { attrs: { id, min: '0' } }));
  m.max = Math.max(max, 0.1);
  m.value = Math.max(0, Math.min(used, m.max));
  m.low = m.max * 0.8;
  m.high = m.max * 0.95;
  m.optimum = 0;
  return h('div', { className: 'phase' }, [h('label', { text: label, attrs: { for: id } }), m, h('span', { text })]);
}

/** @param {Snapshot} s */
function renderSites(s) {
  const el = $('sites');
  if (s.sites.length === 0) {
    el.replaceChildren(h('p', { className: 'note', text: 'No load-balancing sites configured (AMPLINE_SITES_FILE).' }));
    return;
  }
  el.className = 'sites';
  el.replaceChildren(
    ...s.sites.map((site) => {
      const safeId = site.id.replace(/[^A-Za-z0-9_-]/g, '_');
      const lim = site.limit;
      const limitText = 'perPhaseA' in lim
        ? `Fuse ${lim.perPhaseA.L1}/${lim.perPhaseA.L2}/${lim.perPhaseA.L3} A per phase, margin ${lim.marginA} A`
        : `Connection ${kW(lim.totalPowerW)} kW, margin ${kW(lim.marginW)} kW`;
      const rows = [];
      const t = site.lastTick;
      // The balancer hands out the whole budget, so the meter shows what the sessions draw against it;
      // the allocation (what they may draw) is in the text.
      if (t?.budget.perPhaseA) {
        const b = t.budget.perPhaseA;
        for (const ph of /** @type {const} */ (['L1', 'L2', 'L3'])) {
          rows.push(meterRow(`site-${safeId}-${ph}`, ph, site.measuredPerPhaseA[ph], b[ph],
            `${site.measuredPerPhaseA[ph].toFixed(1)} A drawn of ${b[ph].toFixed(1)} A budget · ${t.allocatedPerPhaseA[ph].toFixed(1)} A allocated`));
        }
      } else if (t && t.budget.totalPhaseA !== undefined) {
        const drawnPhaseA = site.measuredPerPhaseA.L1 + site.measuredPerPhaseA.L2 + site.measuredPerPhaseA.L3;
        rows.push(meterRow(`site-${safeId}-total`, 'All', drawnPhaseA, t.budget.totalPhaseA,
          `${kW(drawnPhaseA * site.voltage)} kW drawn of ${kW(t.budget.totalPhaseA * site.voltage)} kW budget · ${kW(t.allocatedPhaseA * site.voltage)} kW allocated`));
      }
      const info = t
        ? `Last tick ${clock(t.at)} (every ${site.tickS} s) · ${t.allocations.length} session(s)` +
          `${t.minimumsFit ? '' : ' · not every session fits its minimum'}${t.baseLoad === 'stale-fallback' ? ' · base load assumed' : ''}`
        : 'No tick yet';
      return h('article', { className: 'site', attrs: { 'data-site': site.id, 'aria-label': `Site ${site.id}` } }, [
        h('h3', { text: site.id }),
        h('p', { text: `${limitText} · ${site.stations.length} station(s)` }),
        h('p', { text: info }),
        ...rows,
      ]);
    }),
  );
}

/** @param {Snapshot} s */
function renderOutbox(s) {
  const body = $('outbox-body');
  if (s.outbox.partners.length === 0) {
    body.replaceChildren(h('tr', {}, [h('td', { className: 'empty', text: 'No SCSP partner configured', attrs: { colspan: '5' } })]));
    return;
  }
  body.replaceChildren(
    ...s.outbox.partners.map((p) =>
      h('tr', { attrs: { 'data-partner': p.partnerId } }, [
        h('td', { text: p.name === p.partnerId ? p.partnerId : `${p.name} (${p.partnerId})` }),
        h('td', { text: p.enabled ? 'yes' : 'no' }),
        h('td', { className: 'num', text: String(p.pending) }),
        h('td', { className: 'num', text: String(p.dead) }),
        h('td', { text: clock(p.oldestPendingAt) }),
      ]),
    ),
  );
}

// ── history and chart ────────────────────────────────────────────────────────────────────────

/** @param {Sample[]} arr @param {Sample} x */
function push(arr, x) {
  const prev = arr[arr.length - 1];
  if (prev && prev.p === x.p && prev.l === x.l) return; // a step line needs only the changes
  arr.push(x);
  while (arr.length > MAX_SAMPLES || (arr.length > 1 && /** @type {Sample} */ (arr[1]).t < x.t - HISTORY_MS)) arr.shift();
}

/** @param {Snapshot} s */
function record(s) {
  const t = Date.now();
  const total = /** @type {Sample[]} */ (seriesSamples.get('total'));
  push(total, { t, p: s.totals.powerW, l: s.totals.sessions > 0 ? s.totals.limitW : null });
  const seen = new Set();
  for (const x of s.sessions) {
    const key = `${x.stationId}/${x.evseId}`;
    seen.add(key);
    let arr = seriesSamples.get(key);
    if (!arr) {
      seriesSamples.set(key, (arr = []));
      seriesLabels.set(key, `${x.stationId} · EVSE ${x.evseId}`);
    }
    push(arr, { t, p: x.powerW ?? 0, l: x.limit ? x.limit.limitW : null });
  }
  for (const [key, arr] of seriesSamples) if (key !== 'total' && !seen.has(key)) push(arr, { t, p: 0, l: null });
  syncSeriesOptions();
}

function syncSeriesOptions() {
  const select = /** @type {HTMLSelectElement} */ ($('chart-series'));
  const have = new Set([...select.options].map((o) => o.value));
  for (const [key, label] of seriesLabels) if (!have.has(key)) select.append(h('option', { text: label, attrs: { value: key } }));
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const W = 800;
const H = 260;
const PAD = { left: 52, right: 12, top: 12, bottom: 26 };

/** @param {string} tag @param {Record<string, string | number>} attrs @param {string} [text] */
function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A tick step of 1, 2 or 5 × 10^n giving about `n` ticks up to `max`. @param {number} max @param {number} n */
function niceStep(max, n) {
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function renderChart() {
  const key = /** @type {HTMLSelectElement} */ ($('chart-series')).value;
  const windowMs = Number(/** @type {HTMLSelectElement} */ ($('chart-window')).value) * 60_000;
  const now = Date.now();
  const from = now - windowMs;
  const all = seriesSamples.get(key) ?? [];
  // The sample in force at `from` starts the window; later ones follow.
  let i0 = 0;
  while (i0 + 1 < all.length && /** @type {Sample} */ (all[i0 + 1]).t <= from) i0++;
  const samples = all.slice(i0);
  let maxW = 1000;
  for (const x of samples) maxW = Math.max(maxW, x.p, x.l ?? 0);
  const step = niceStep(maxW * 1.05, 4);
  const top = Math.ceil((maxW * 1.05) / step) * step;
  const x = (/** @type {number} */ t) => PAD.left + ((Math.max(t, from) - from) / windowMs) * (W - PAD.left - PAD.right);
  const y = (/** @type {number} */ v) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);

  const nodes = [];
  for (let v = 0; v <= top + 1e-9; v += step) {
    nodes.push(svg('line', { class: 'grid-line', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    nodes.push(svg('text', { class: 'axis-label', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, `${(v / 1000).toFixed(step < 1000 ? 1 : 0)} kW`));
  }
  const minutes = windowMs / 60_000;
  const tickMin = minutes <= 5 ? 1 : minutes <= 15 ? 5 : 15;
  for (let m = 0; m <= minutes; m += tickMin) {
    const t = now - m * 60_000;
    nodes.push(svg('text', { class: 'axis-label', x: x(t), y: H - 8, 'text-anchor': m === 0 ? 'end' : 'middle' }, m === 0 ? 'now' : `−${m} min`));
  }
  /** @param {(s: Sample) => number | null} val */
  const stepPath = (val) => {
    let d = '';
    let open = false;
    samples.forEach((s, i) => {
      const v = val(s);
      const next = samples[i + 1];
      const t1 = next ? next.t : now;
      if (v === null) {
        open = false;
        return;
      }
      d += `${open ? 'L' : 'M'}${x(s.t).toFixed(1)},${y(v).toFixed(1)}H${x(t1).toFixed(1)}`;
      open = true;
    });
    return d;
  };
  const limitD = stepPath((s) => s.l);
  const powerD = stepPath((s) => s.p);
  if (limitD) nodes.push(svg('path', { class: 'line-limit', d: limitD }));
  if (powerD) nodes.push(svg('path', { class: 'line-power', d: powerD }));
  $('chart').replaceChildren(...nodes);

  const cur = samples[samples.length - 1];
  const label = seriesLabels.get(key) ?? key;
  $('chart-caption').textContent = cur
    ? `${label}: ${kW(cur.p)} kW now${cur.l === null ? ', no limit known' : `, limit in force ${kW(cur.l)} kW`} (${samples.length} change(s) in the window).`
    : `${label}: no data yet.`;
}

// ── wiring ───────────────────────────────────────────────────────────────────────────────────

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('api-key'));
  const key = input.value.trim();
  if (!key) return;
  apiKey = key;
  sessionStorage.setItem(KEY_STORAGE, key);
  input.value = '';
  $('login-error').textContent = '';
  backoffMs = 1000;
  void start();
});
$('logout').addEventListener('click', () => showLogin());
$('chart-series').addEventListener('change', renderChart);
$('chart-window').addEventListener('change', renderChart);
// The time axis moves even when nothing changes.
setInterval(() => {
  if (last) renderChart();
}, 1000);

if (apiKey) void start();
else showLogin();
