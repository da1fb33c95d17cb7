/** Reachability checks for optional services: tests that need them skip with a clear message. */
import net from 'node:net';

export async function reachable(url: string | undefined, timeoutMs = 1000): Promise<boolean> {
  if (!url) return false;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  const port = Number(u.port || (u.protocol.startsWith('postgres') ? 5432 : 4222));
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port, timeout: timeoutMs });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/**
 * A service that was configured for the run (its URL is set) gets several tries: under a heavily loaded
 * machine (tests in parallel, a benchmark beside them) one 1 s connect can time out, and the tests that
 * need it would then skip silently although the service is there. An absent service still fails fast
 * (connection refused).
 */
export async function reachableConfigured(url: string, attempts = 5): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await reachable(url, 3000)) return true;
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

/** The PostgreSQL URL for tests, or a skip reason. */
export async function testDatabaseUrl(): Promise<{ url: string } | { skip: string }> {
  const url = process.env.AMPLINE_TEST_DATABASE_URL;
  if (!url) return { skip: 'PostgreSQL tests skipped: set AMPLINE_TEST_DATABASE_URL=postgres://… to run them' };
  if (!(await reachableConfigured(url))) return { skip: `PostgreSQL tests skipped: ${new URL(url).host} is not reachable` };
  return { url };
}
