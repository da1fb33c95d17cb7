/**
 * `ampline scsp` as a process: `--port 0` prints the chosen port in the `listening on <url>` log line,
 * the admin key is generated and printed when AMPLINE_SCSP_API_KEY is unset, /healthz answers, SIGTERM
 * stops it cleanly; a bad setting exits 2 with a message naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AMPLINE_')) env[k] = v;
  return { ...env, AMPLINE_LOG_LEVEL: 'info', ...extra };
}

test('ampline scsp --port 0: listening line, generated admin key, /healthz, clean SIGTERM', async () => {
  const dir = tempDir();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'scsp', '--port', '0', '--host', '127.0.0.1', '--data-dir', dir], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"msg":"listening on (http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`exited with ${code} before listening: ${out} ${err}`)));
    });
    const key = readFileSync(join(dir, 'api-key'), 'utf8').trim();
    assert.ok(out.includes(`AMPLINE_SCSP_API_KEY is not set; SCSP admin API key (kept in ${dir}/api-key): ${key}`));
    const line = out.split('\n').find((l) => l.includes('listening on'))!;
    const log = JSON.parse(line) as { name: string; level: number; url: string };
    assert.equal(log.name, 'ampline-scsp');
    assert.equal(log.url, url);
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { service: string }).service, 'scsp');
    const cpos = await fetch(`${url}/api/v1/cpos`, { headers: { 'x-api-key': key } });
    assert.equal(cpos.status, 200);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, err);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ampline scsp with an invalid setting exits 2 naming it', async () => {
  const dir = tempDir();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'scsp', '--data-dir', dir], { env: cleanEnv({ AMPLINE_SCSP_PORT: 'eighty' }), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 2);
  assert.match(err, /ampline: AMPLINE_SCSP_PORT must be an integer/);
});
