/** AMPLINE_SITES_FILE / site definitions: every mistake is refused with a message naming the field. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSitesFile, parseSites } from '../../src/services/load-balancer.js';
import { ConfigError } from '../../src/config.js';
import { tempDir } from '../helpers/csms.js';

const ok = { id: 'depot', limit: { perPhaseA: 63 }, stations: [{ id: 'CP1' }] };

test('a valid site, bare array or {sites}', () => {
  assert.deepEqual(parseSites([ok]), [ok]);
  assert.deepEqual(parseSites({ sites: [{ ...ok, limit: { totalPowerW: 43000, marginW: 1000 }, tickS: 5, voltage: 230 }] })[0]?.limit, { totalPowerW: 43000, marginW: 1000 });
  assert.deepEqual(parseSites([{ ...ok, limit: { perPhaseA: { L1: 63, L2: 50, L3: 40 }, marginA: 2 }, stations: [{ id: 'CP1', evses: { '1': ['L2'] } }] }])[0]?.stations[0]?.evses, { '1': ['L2'] });
});

const bad: Array<[string, unknown, RegExp]> = [
  ['not an array', 42, /must be an array/],
  ['missing id', [{ ...ok, id: '' }], /\[0\]\.id must be a non-empty string/],
  ['duplicate id', [ok, { ...ok, stations: [{ id: 'CP2' }] }], /\[1\]\.id "depot" is used twice/],
  ['no limit', [{ ...ok, limit: undefined }], /\[0\]\.limit must be/],
  ['unknown limit kind', [{ ...ok, limit: { amps: 3 } }], /\[0\]\.limit must be/],
  ['negative fuse', [{ ...ok, limit: { perPhaseA: -1 } }], /limit\.perPhaseA must be a number ≥ 0/],
  ['phase fuse missing L3', [{ ...ok, limit: { perPhaseA: { L1: 1, L2: 1 } } }], /perPhaseA\.L3/],
  ['no stations', [{ ...ok, stations: [] }], /stations must be a non-empty array/],
  ['station in two sites', [ok, { ...ok, id: 'other' }], /station CP1 is already in site depot/],
  ['bad EVSE key', [{ ...ok, stations: [{ id: 'CP1', evses: { x: ['L1'] } }] }], /key "x" is not an EVSE id/],
  ['bad phase', [{ ...ok, stations: [{ id: 'CP1', evses: { '1': ['L4'] } }] }], /evses\.1 must be a list of distinct phases/],
  ['tick below 1 s', [{ ...ok, tickS: 0 }], /tickS must be a number ≥ 1/],
];
for (const [name, input, msg] of bad) {
  test(`refused: ${name}`, () => {
    assert.throws(() => parseSites(input), (err: unknown) => err instanceof ConfigError && msg.test(err.message));
  });
}

test('loadSitesFile: unreadable or invalid JSON names the file', () => {
  const dir = tempDir();
  const f = join(dir, 'sites.json');
  writeFileSync(f, '{ not json');
  assert.throws(() => loadSitesFile(f), (err: unknown) => err instanceof ConfigError && err.message.includes('AMPLINE_SITES_FILE') && err.message.includes(f));
  assert.throws(() => loadSitesFile(join(dir, 'missing.json')), /cannot read/);
  writeFileSync(f, JSON.stringify({ sites: [ok] }));
  assert.equal(loadSitesFile(f)[0]?.id, 'depot');
});
