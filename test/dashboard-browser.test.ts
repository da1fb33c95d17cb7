/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core (no browser
 * download — `executablePath` is the system one), against a real CSMS with simulated chargers of both
 * OCPP versions. Sign in with the API key, see the stations in the grid, see a session appear when a
 * charger starts one, and see the power figure follow the meter readings live — including a limit that
 * slows the EV down. Every wait is for DOM content (bounded by a generous deadline), never a sleep.
 *
 * Skips with a message when /usr/bin/chromium is absent (install it: `apt-get install -y chromium`;
 * .ci/run does). AMPLINE_TEST_CHROMIUM names another Chromium binary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { SimChargePoint, type Amps, type Watts, type WattHours } from '../src/sim/index.js';
import { startTestCsms, type TestCsms } from './helpers/csms.js';
import { uniqueId, waitFor } from './helpers/wire.js';

const KEY = 'test-api-key-123';
const CHROMIUM = process.env.AMPLINE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const LONG = 60_000;
const EV = { batteryWh: 60_000 as WattHours, socPercent: 20, maxPowerW: 22_000 as Watts, phases: 3 };

const skip = existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set AMPLINE_TEST_CHROMIUM to run the dashboard browser test`;

async function charger(csms: TestCsms, id: string, protocol: 'ocpp1.6' | 'ocpp2.0.1', evses: number): Promise<SimChargePoint> {
  const cp = new SimChargePoint({
    url: csms.ocppUrl,
    identity: id,
    protocol,
    evses: Array.from({ length: evses }, (_, i) => ({ id: i + 1, connectors: [{ id: 1, powerType: 'AC_3_PHASE' as const, maxCurrentA: 32 as Amps }] })),
    meterIntervalS: 0,
    reconnect: false,
  });
  await cp.connect();
  return cp;
}

test('dashboard in Chromium: sign in, stations in the grid, a session appears, power updates live', { skip }, async () => {
  const { chromium } = await import('playwright-core');
  const csms = await startTestCsms();
  const a = uniqueId('WEB16');
  const b = uniqueId('WEB201');
  const cps: SimChargePoint[] = [];
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
  try {
    cps.push(await charger(csms, a, 'ocpp1.6', 2), await charger(csms, b, 'ocpp2.0.1', 1));
    const page = await browser.newPage();
    page.setDefaultTimeout(LONG);
    // Anything the page logs as an error (a CSP violation, an exception) fails the test at the end.
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    // Nothing may leave this origin (no CDN, no fonts, no analytics).
    const origin = new URL(csms.url).origin;
    const foreign: string[] = [];
    page.on('request', (req) => {
      const u = new URL(req.url());
      if (u.protocol !== 'data:' && u.origin !== origin) foreign.push(req.url());
    });

    await page.goto(`${csms.url}/`);
    // Not signed in: the form, reachable by its label.
    await page.getByLabel('API key').fill('wrong-key-000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#conn', { hasText: 'Live' }).waitFor();
    // The refused attempt was logged by the browser as a failed (401) load: expected, and the only one.
    assert.deepEqual(problems.map((p) => /status of 401/.test(p)), [true]);
    problems.length = 0;

    // The station grid shows both stations, with their EVSEs.
    await page.locator(`#stations [data-station="${a}"] [data-evse="2"]`).waitFor();
    await page.locator(`#stations [data-station="${b}"] [data-evse="1"][data-state="available"]`).waitFor();
    assert.equal(await page.locator(`#stations [data-station="${a}"] [data-evse]`).count(), 2);
    await page.locator('#stat-online', { hasText: /^2$/ }).waitFor();
    assert.equal(await page.locator('#stat-sessions').textContent(), '0');

    // A session started at the charger appears in the table and the grid, live.
    await cps[1]!.startSession({ evseId: 1, idTag: 'BROWSERTAG1', ev: EV });
    const row = page.locator(`#sessions-body tr[data-station="${b}"]`);
    await row.waitFor();
    await page.locator('#stat-sessions', { hasText: /^1$/ }).waitFor();
    assert.match((await row.textContent()) ?? '', /…TAG1/);
    await page.locator(`#stations [data-station="${b}"] [data-evse="1"][data-state="charging"]`).waitFor();

    // The power figure follows the readings: full power, then a 10 A limit (6.9 kW) the EV obeys.
    await cps[1]!.sendMeterValues(1);
    await page.locator('#stat-power', { hasText: /^22\.0$/ }).waitFor();
    await row.locator('td.power', { hasText: '22.0' }).waitFor();
    const limit = await fetch(`${csms.url}/API/SetChargingLimit/${b}/1/10A`, { headers: { 'X-API-Key': KEY } });
    assert.deepEqual(await limit.json(), { status: 'Accepted' });
    await waitFor(() => Math.abs(cps[1]!.evse(1).powerW - 6900) < 1, { what: 'simulated EV at 10 A', timeoutMs: LONG });
    await cps[1]!.sendMeterValues(1);
    await page.locator('#stat-power', { hasText: /^6\.9$/ }).waitFor();
    await row.locator('td', { hasText: 'management' }).waitFor();
    // The chart's text alternative tells the same numbers (total series: power and limit in force).
    await page.locator('#chart-caption', { hasText: '6.9 kW now, limit in force 6.9 kW' }).waitFor();
    assert.ok((await page.locator('#chart path.line-power').count()) === 1, 'power line drawn');

    // The session ends: gone from the table, the power back to zero.
    await cps[1]!.stopSession(1);
    await page.locator('#sessions-body td.empty').waitFor();
    await page.locator('#stat-power', { hasText: /^0\.0$/ }).waitFor();

    assert.deepEqual(problems, []);
    assert.deepEqual(foreign, []);
    const stored = await page.evaluate('sessionStorage.getItem("ampline.dashboard.apiKey")');
    assert.equal(stored, KEY, 'the key is kept in sessionStorage (this tab only)');
  } finally {
    await browser.close();
    for (const cp of cps) await cp.close().catch(() => undefined);
    await csms.destroy();
  }
});
