/**
 * @module
 * SVG bar charts generated from the results JSON (no hand-drawn images): one
 * chart per scenario metric, a bar per server at its median with a min–max
 * whisker, the peer marked. Pure: returns the SVG text.
 */
import { figure, formatNumber, type Metric, type ScenarioResult } from "./results.ts";

const escapeXml = (s: string) =>
  s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);

const COLORS = { wirehouse: "#d9480f", peer: "#1864ab", other: "#74c0fc" };

/** A horizontal bar chart of one metric of one scenario; servers without figures are left out. */
export function renderChart(sc: ScenarioResult, metric: Metric, wirehouseIds: ReadonlySet<string> = new Set()): string {
  const rows = sc.servers
    .map((s) => ({ s, f: figure(s, metric.key) }))
    .filter((x): x is { s: (typeof sc.servers)[number]; f: NonNullable<ReturnType<typeof figure>> } => !!x.f);
  const width = 760;
  const left = 210;
  const barArea = 400;
  const rowHeight = 30;
  const top = 46;
  const height = top + Math.max(1, rows.length) * rowHeight + 30;
  const max = Math.max(1e-9, ...rows.map((r) => r.f.max));
  const x = (v: number) => left + (v / max) * barArea;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="system-ui, sans-serif" font-size="13">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(
    `<text x="10" y="20" font-size="15" font-weight="bold">${escapeXml(`${sc.title}: ${metric.label}`)}</text>`,
  );
  parts.push(
    `<text x="10" y="38" fill="#555">${escapeXml(
      `${metric.unit}, median of runs with min–max; ${metric.higher ? "longer is better" : "shorter is better"}; ${sc.tool}`,
    )}</text>`,
  );
  rows.forEach(({ s, f }, i) => {
    const y = top + i * rowHeight;
    const color = wirehouseIds.has(s.id) ? COLORS.wirehouse : s.id === sc.reference ? COLORS.peer : COLORS.other;
    parts.push(`<text x="${left - 8}" y="${y + 19}" text-anchor="end">${escapeXml(s.label)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y + 6}" width="${Math.max(1, x(f.median) - left).toFixed(1)}" height="18" fill="${color}"/>`,
    );
    parts.push(
      `<line x1="${x(f.min).toFixed(1)}" x2="${x(f.max).toFixed(1)}" y1="${y + 15}" y2="${y + 15}" stroke="#222" stroke-width="1.5"/>`,
    );
    for (const v of [f.min, f.max]) {
      parts.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${y + 10}" y2="${y + 20}" stroke="#222"/>`);
    }
    parts.push(`<text x="${(x(f.max) + 8).toFixed(1)}" y="${y + 19}">${escapeXml(formatNumber(f.median))}</text>`);
  });
  if (rows.length === 0) parts.push(`<text x="${left}" y="${top + 19}" fill="#555">no figures</text>`);
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${height - 24}" stroke="#888"/>`);
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** File name of a chart: results/<scenario>-<metric>.svg. */
export function chartName(sc: ScenarioResult, metric: Metric): string {
  return `${sc.id}-${metric.key}.svg`;
}
