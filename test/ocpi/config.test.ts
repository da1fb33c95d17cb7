/** The OCPI settings of both parties: defaults, normalisation, and refusal of invalid values naming the setting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { ConfigError, loadConfig } from '../../src/config.js';
import { ScspConfigError, loadScspConfig } from '../../src/scsp/config.js';
import { tempDir } from '../helpers/csms.js';

test('CSMS: AMPLINE_PUBLIC_URL and AMPLINE_OCPI_* (defaults NL / AMP / "Ampline CPO")', () => {
  const dir = tempDir();
  try {
    const base = { AMPLINE_API_KEY: 'k'.repeat(12) };
    const d = loadConfig(base, { dataDir: dir });
    assert.equal(d.publicUrl, undefined);
    const { chargingProfiles, sessions, ...party } = d.ocpi;
    assert.deepEqual(party, { countryCode: 'NL', partyId: 'AMP', businessName: 'Ampline CPO' });
    assert.equal(sessions.updateIntervalS, 60);
    assert.equal(sessions.currency, 'EUR');
    assert.ok(chargingProfiles.minIntervalS >= 0 && chargingProfiles.activeHorizonS >= 300);
    const c = loadConfig({ ...base, AMPLINE_PUBLIC_URL: 'https://cpo.example.com/', AMPLINE_OCPI_COUNTRY_CODE: 'be', AMPLINE_OCPI_PARTY_ID: 'x1z', AMPLINE_OCPI_BUSINESS_NAME: 'Énergie SA' }, { dataDir: dir });
    assert.equal(c.publicUrl, 'https://cpo.example.com');
    assert.deepEqual([c.ocpi.countryCode, c.ocpi.partyId, c.ocpi.businessName], ['BE', 'X1Z', 'Énergie SA']);
    for (const [k, v] of [['AMPLINE_PUBLIC_URL', 'ftp://x'], ['AMPLINE_OCPI_COUNTRY_CODE', 'NLD'], ['AMPLINE_OCPI_PARTY_ID', 'AM'], ['AMPLINE_OCPI_BUSINESS_NAME', 'a\nb'], ['AMPLINE_OCPI_CURRENCY', 'EURO'], ['AMPLINE_OCPI_SESSION_UPDATE_INTERVAL_S', '0'], ['AMPLINE_OCPI_ACTIVE_PROFILE_HORIZON_S', '60']] as const) {
      assert.throws(() => loadConfig({ ...base, [k]: v }, { dataDir: dir }), (e: Error) => e instanceof ConfigError && e.message.includes(k), k);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SCSP: AMPLINE_SCSP_OCPI_* (defaults SCSP / NL / AMS / "Ampline SCSP")', () => {
  const dir = tempDir();
  try {
    const base = { AMPLINE_SCSP_API_KEY: 'k'.repeat(12) };
    assert.deepEqual(loadScspConfig(base, { dataDir: dir }).ocpi, { role: 'SCSP', countryCode: 'NL', partyId: 'AMS', businessName: 'Ampline SCSP' });
    const c = loadScspConfig({ ...base, AMPLINE_SCSP_OCPI_ROLE: 'OTHER', AMPLINE_SCSP_OCPI_PARTY_ID: 'jdx', AMPLINE_SCSP_OCPI_COUNTRY_CODE: 'nl' }, { dataDir: dir });
    assert.deepEqual([c.ocpi.role, c.ocpi.partyId, c.ocpi.countryCode], ['OTHER', 'JDX', 'NL']);
    // The CSMS's names do not leak into the SCSP (both run with one environment in the demo).
    assert.equal(loadScspConfig({ ...base, AMPLINE_OCPI_PARTY_ID: 'CPO' }, { dataDir: dir }).ocpi.partyId, 'AMS');
    for (const [k, v] of [['AMPLINE_SCSP_OCPI_ROLE', 'CPO'], ['AMPLINE_SCSP_OCPI_PARTY_ID', 'TOOLONG'], ['AMPLINE_SCSP_OCPI_COUNTRY_CODE', '12']] as const) {
      assert.throws(() => loadScspConfig({ ...base, [k]: v }, { dataDir: dir }), (e: Error) => e instanceof ScspConfigError && e.message.includes(k), k);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the advertised URLs follow AMPLINE_PUBLIC_URL', async () => {
  const { startTestCsms } = await import('../helpers/csms.js');
  const csms = await startTestCsms({ env: { AMPLINE_PUBLIC_URL: 'https://cpo.example.com/base' } });
  try {
    assert.equal(csms.ocpi.versionsUrl(), 'https://cpo.example.com/base/ocpi/versions');
    assert.deepEqual(csms.ocpi.endpoints(), [
      { identifier: 'credentials', role: 'SENDER', url: 'https://cpo.example.com/base/ocpi/2.2.1/credentials' },
      { identifier: 'sessions', role: 'SENDER', url: 'https://cpo.example.com/base/ocpi/2.2.1/sessions' },
      { identifier: 'chargingprofiles', role: 'RECEIVER', url: 'https://cpo.example.com/base/ocpi/2.2.1/chargingprofiles' },
    ]);
  } finally {
    await csms.destroy();
  }
});
