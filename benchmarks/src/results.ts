/**
 * @module
 * The results file (benchmarks/results/<date>-<host>.json) and what is made
 * from it: medians with min–max, ratios to the named peer of the same run,
 * target verdicts, and the Markdown table kept in benchmarks/README.md between
 * marker comments. Pure functions over plain data.
 */
import { spread } from "./stats.ts";

export interface Metric {
  key: string;
  label: string;
  unit: string;
  /** True when more is better (throughput), false when less is (bytes per connection). */
  higher: boolean;
}

export interface ServerRuns {
  id: string;
  label: string;
  runtime: string;
  /** One entry per repetition: metric key -> figure, plus details (latency, CPU, tool). */
  runs: Array<{ metrics: Record<string, number>; details?: Record<string, unknown> }>;
  /** Set when the server could not run (not installed, not written yet, failed to start). */
  skipped?: string;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** Which tool produced the figures, e.g. "loadgen (this package)", "autocannon 8", "wrk 4.1". */
  tool: string;
  metrics: Metric[];
  /** The peer each row is compared with. */
  reference: string;
  servers: ServerRuns[];
}

export interface Target {
  scenario: string;
  metric: string;
  server: string;
  /** A peer id, or absent for an absolute bound. */
  peer?: string;
  op: ">=" | "<=";
  /** The bound: factor × peer's median, or an absolute figure when there is no peer. */
  value: number;
  text: string;
}

export interface Results {
  date: string;
  host: string;
  suite: string;
  /** `loadAverage`: the 1-minute load average when the run started and ended (other work on the machine). */
  machine: { cpuModel: string; cores: number; memoryBytes: number; os: string; loadAverage?: number[] };
  versions: Record<string, string>;
  settings: Record<string, unknown>;
  scenarios: ScenarioResult[];
  targets: Target[];
  durationSeconds: number;
  notes: string[];
}

/** The median, min and max of one server's metric, or undefined when it has no runs. */
export function figure(s: ServerRuns, metric: string) {
  const values = s.runs
    .map((r) => r.metrics[metric])
    .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  return values.length ? spread(values) : undefined;
}

/** Ratio of `server`'s median to `peer`'s median for one scenario metric. */
export function ratio(sc: ScenarioResult, metric: string, server: string, peer: string): number | undefined {
  const a = sc.servers.find((s) => s.id === server);
  const b = sc.servers.find((s) => s.id === peer);
  const fa = a && figure(a, metric);
  const fb = b && figure(b, metric);
  if (!fa || !fb || fb.median === 0) return undefined;
  return fa.median / fb.median;
}

/**
 * The server-to-peer ratio within each round (the runs made in the same pass over the servers,
 * `details.round`), for the rounds where both have a figure. The suites run each wirehouse
 * server right before its target peer, so a pair is seconds apart: a slow phase of the machine
 * (this VM's rates move by a quarter between minutes) hits both runs of a pair rather than one
 * server's median. Empty for results without rounds (files written before rounds were kept).
 */
export function pairedRatios(sc: ScenarioResult, metric: string, server: string, peer: string): number[] {
  const a = sc.servers.find((s) => s.id === server);
  const b = sc.servers.find((s) => s.id === peer);
  if (!a || !b) return [];
  const byRound = new Map<unknown, number>();
  for (const run of b.runs) {
    const v = run.metrics[metric];
    if (run.details?.round !== undefined && typeof v === "number" && Number.isFinite(v) && v !== 0)
      byRound.set(run.details.round, v);
  }
  const out: number[] = [];
  for (const run of a.runs) {
    const v = run.metrics[metric];
    const p = run.details?.round === undefined ? undefined : byRound.get(run.details.round);
    if (p !== undefined && typeof v === "number" && Number.isFinite(v)) out.push(v / p);
  }
  return out;
}

export interface Verdict {
  target: Target;
  /** The measured ratio (peer targets) or figure (absolute targets). */
  measured?: number;
  met?: boolean;
  /** Peer targets: the ratios of the rounds' pairs (informative; the verdict is on `measured`). */
  paired?: number[];
}

/** Checks each target against the figures of the same run. */
export function verdicts(r: Results): Verdict[] {
  return r.targets.map((t) => {
    const sc = r.scenarios.find((s) => s.id === t.scenario);
    if (!sc) return { target: t };
    let measured: number | undefined;
    if (t.peer) measured = ratio(sc, t.metric, t.server, t.peer);
    else {
      const s = sc.servers.find((x) => x.id === t.server);
      measured = s ? figure(s, t.metric)?.median : undefined;
    }
    if (measured === undefined) return { target: t };
    const met = t.op === ">=" ? measured >= t.value : measured <= t.value;
    const paired = t.peer ? pairedRatios(sc, t.metric, t.server, t.peer) : [];
    return { target: t, measured, met, ...(paired.length ? { paired } : {}) };
  });
}

/** 12345.6 -> "12,346"; small figures keep two decimals. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return "—";
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const formatRatio = (v: number | undefined) => (v === undefined ? "—" : `${v.toFixed(2)}×`);

/**
 * For each runtime whose floor ran (`floor-<runtime>`: the transport alone, no WebSocket work; see
 * servers.ts) beside wirehouse on it (`wirehouse-<runtime>`): wirehouse's figures as a share of the
 * floor's, and the floor's against the scenario's peer. The first says what wirehouse's own work
 * costs; the second is as far as any server on that runtime could get against the peer here.
 */
export function floorLines(r: Results): string[] {
  const out: string[] = [];
  for (const sc of r.scenarios) {
    const peer = sc.servers.find((s) => s.id === sc.reference);
    for (const floor of sc.servers) {
      const runtime = /^floor-(node|deno|bun)$/.exec(floor.id)?.[1];
      const wirehouse = runtime && sc.servers.find((s) => s.id === `wirehouse-${runtime}`);
      if (!wirehouse || !figure(floor, sc.metrics[0]!.key) || !figure(wirehouse, sc.metrics[0]!.key)) continue;
      const parts = sc.metrics.map((m) => {
        const p = pairedRatios(sc, m.key, wirehouse.id, floor.id);
        const s = p.length ? spread(p) : undefined;
        const paired = s ? ` (paired ${formatRatio(s.median)}, ${formatRatio(s.min)}–${formatRatio(s.max)})` : "";
        return `${formatRatio(ratio(sc, m.key, wirehouse.id, floor.id))} in ${m.label}${paired}`;
      });
      const vsPeer = peer
        ? `; the floor did ${sc.metrics.map((m) => formatRatio(ratio(sc, m.key, floor.id, peer.id))).join(" and ")} ${peer.label}`
        : "";
      out.push(`${sc.id}: ${wirehouse.label} did ${parts.join(", ")} of ${floor.label}${vsPeer}.`);
    }
  }
  return out;
}

/** The Markdown that goes between the README markers. */
export function renderTable(r: Results): string {
  const out: string[] = [];
  out.push(
    `Run of ${r.date.slice(0, 16).replace("T", " ")} UTC on \`${r.host}\` (${r.machine.cpuModel}, ${r.machine.cores} cores), ` +
      `suite \`${r.suite}\`, ${r.settings.repeats} runs each, ${Math.round(r.durationSeconds)} s in all` +
      (r.machine.loadAverage ? `, load average ${r.machine.loadAverage.map((x) => x.toFixed(1)).join(" → ")}` : "") +
      ". " +
      `Versions: ${Object.entries(r.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}.`,
  );
  out.push("");
  out.push(
    "Medians of the runs, min–max in brackets; the ratio is to the row's named peer measured in the same run " +
      "(for memory per connection and latency lower is better).",
  );
  out.push("");
  out.push("| scenario | server | median | min–max | ratio | tool |");
  out.push("|---|---|---:|---:|---:|---|");
  for (const sc of r.scenarios) {
    const ref = sc.servers.find((s) => s.id === sc.reference);
    for (const m of sc.metrics) {
      for (const s of sc.servers) {
        const f = figure(s, m.key);
        const name = `${sc.title}: ${m.label}`;
        if (!f) {
          if (s.skipped && !s.skipped.includes("not written yet"))
            out.push(`| ${name} | ${s.label} | — | ${s.skipped} | | ${sc.tool} |`);
          continue;
        }
        const rr =
          s.id === sc.reference
            ? "1.00× (peer)"
            : `${formatRatio(ratio(sc, m.key, s.id, sc.reference))} ${ref ? ref.label : ""}`;
        out.push(
          `| ${name} | ${s.label} | ${formatNumber(f.median)} ${m.unit} | ${formatNumber(f.min)}–${formatNumber(f.max)} | ${rr} | ${sc.tool} |`,
        );
      }
    }
  }
  out.push("");
  out.push("### Targets (reported, not asserted)");
  out.push("");
  out.push(
    "Measured: the ratio of the medians (the verdict). Paired: the ratio within each round, the two runs made " +
      "seconds apart, as median (min–max) over the rounds.",
  );
  out.push("");
  out.push("| target | measured | paired | verdict |");
  out.push("|---|---:|---:|---|");
  for (const v of verdicts(r)) {
    const measured =
      v.measured === undefined ? "—" : v.target.peer ? formatRatio(v.measured) : `${formatNumber(v.measured)}`;
    const p = v.paired && spread(v.paired);
    const paired = p ? `${formatRatio(p.median)} (${formatRatio(p.min)}–${formatRatio(p.max)})` : "—";
    const verdict = v.met === undefined ? "not measured (server not available)" : v.met ? "met" : "not met";
    out.push(`| ${v.target.text} | ${measured} | ${paired} | ${verdict} |`);
  }
  const floors = floorLines(r);
  if (floors.length) {
    out.push("");
    out.push("Floors (servers with no WebSocket work, see the peer servers section; no target):");
    out.push("");
    for (const f of floors) out.push(`- ${f}`);
  }
  if (r.notes.length) {
    out.push("");
    for (const n of r.notes) out.push(`- ${n}`);
  }
  out.push("");
  out.push("### Charts");
  out.push("");
  for (const sc of r.scenarios) {
    // Same names as svg.ts `chartName`.
    for (const m of sc.metrics) out.push(`![${sc.title}: ${m.label}](results/${sc.id}-${m.key}.svg)`);
  }
  return out.join("\n");
}

export const TABLE_START = "<!-- bench:table:start -->";
export const TABLE_END = "<!-- bench:table:end -->";

/** Replaces what is between the markers (appending the markers when missing). */
export function replaceBetweenMarkers(readme: string, body: string, start = TABLE_START, end = TABLE_END): string {
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) return `${readme.trimEnd()}\n\n${start}\n${body}\n${end}\n`;
  return `${readme.slice(0, a + start.length)}\n${body}\n${readme.slice(b)}`;
}
