/** What each benchmark hands back to bench/run.ts for BENCHMARKS.md. */

export interface TargetRow {
  metric: string;
  measured: string;
  target: string;
  /** undefined = informational (no target). */
  met: boolean | undefined;
}

export interface BenchSection {
  /** --only name */
  name: string;
  title: string;
  targets: TargetRow[];
  /** Markdown body (method + tables), without the heading. */
  body: string;
  durationS: number;
}

export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, align?: readonly ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export function metText(met: boolean | undefined): string {
  return met === undefined ? '—' : met ? '**met**' : '**not met**';
}

export function targetTable(rows: readonly TargetRow[]): string {
  return table(
    ['Metric', 'Measured', 'Target', 'Result'],
    rows.map((r) => [r.metric, r.measured, r.target, metText(r.met)]),
  );
}
