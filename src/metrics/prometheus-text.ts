// The Prometheus text exposition format (version 0.0.4), as a pure encoder: metric families in,
// text out. Names are made valid ([a-zA-Z_:][a-zA-Z0-9_:]*), label values escaped (\\, ", newline),
// and a family is written once with its HELP and TYPE lines, then its samples.

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricSample {
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: MetricSample[];
}

/** A valid metric or label name from any string: camelCase to snake_case, other characters to '_'. */
export function metricName(raw: string): string {
  const snake = raw
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_:]/g, '_');
  return /^[0-9]/.test(snake) ? `_${snake}` : snake;
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Encodes `families` (a name given twice is an error: the format allows one block per family). */
export function encodePrometheusText(families: MetricFamily[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of families) {
    const name = metricName(f.name);
    if (seen.has(name)) throw new RangeError(`metric family ${name} given twice`);
    seen.add(name);
    out.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const labelText = labels.length ? `{${labels.map(([k, v]) => `${metricName(k)}="${escapeLabelValue(v)}"`).join(',')}}` : '';
      out.push(`${name}${labelText} ${formatValue(s.value)}`);
    }
  }
  return out.join('\n') + '\n';
}
