import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseWrk } from "../src/httpload.ts";
import {
  floorLines,
  formatNumber,
  pairedRatios,
  type Results,
  ratio,
  renderTable,
  replaceBetweenMarkers,
  TABLE_END,
  TABLE_START,
  verdicts,
} from "../src/results.ts";
import { targets } from "../src/suite.ts";
import { chartName, renderChart } from "../src/svg.ts";

const MSGS = { key: "msgs", label: "messages/s", unit: "msgs/s", higher: true };
const BYTES = { key: "bytes", label: "memory per idle connection", unit: "B/conn", higher: false };

function sample(): Results {
  const runs = (key: string, values: number[]) => values.map((v) => ({ metrics: { [key]: v } }));
  // Runs that know their round (the pass over the servers they were made in).
  const rounds = (key: string, values: number[]) =>
    values.map((v, i) => ({ metrics: { [key]: v }, details: { round: i + 1 } }));
  return {
    date: "2026-11-23T10:00:00.000Z",
    host: "test-host",
    suite: "quick",
    machine: { cpuModel: "Test CPU", cores: 2, memoryBytes: 1, os: "linux", loadAverage: [0.1, 0.2] },
    versions: { node: "20.20.2", ws: "8.23.0" },
    settings: { repeats: 3 },
    scenarios: [
      {
        id: "echo-32",
        title: "Echo 32 B",
        tool: "loadgen (this package)",
        metrics: [MSGS],
        reference: "ws-node",
        servers: [
          {
            id: "wirehouse-node",
            label: "wirehouse (Node)",
            runtime: "node",
            runs: rounds("msgs", [150_000, 160_000, 170_000]),
          },
          { id: "ws-node", label: "ws 8 <Node>", runtime: "node", runs: rounds("msgs", [80_000, 100_000, 90_000]) },
          {
            id: "wirehouse-bun",
            label: "wirehouse (Bun)",
            runtime: "bun",
            runs: [],
            skipped: "examples/echo not written yet",
          },
          { id: "nginx", label: "nginx", runtime: "native", runs: [], skipped: "nginx not installed" },
        ],
      },
      {
        id: "connect-10k",
        title: "10,000 connections",
        tool: "loadgen (this package)",
        metrics: [BYTES],
        reference: "ws-node",
        servers: [
          { id: "wirehouse-node", label: "wirehouse (Node)", runtime: "node", runs: runs("bytes", [3000, 2000, 2600]) },
          { id: "ws-node", label: "ws 8 (Node)", runtime: "node", runs: runs("bytes", [6000, 6500, 6200]) },
        ],
      },
    ],
    targets: targets(["echo-32", "connect-10k"]),
    durationSeconds: 42,
    notes: ["a note"],
  };
}

describe("results to table", () => {
  it("computes ratios of medians in the same run", () => {
    const r = sample();
    assert.equal(ratio(r.scenarios[0]!, "msgs", "wirehouse-node", "ws-node"), 160_000 / 90_000);
    assert.equal(ratio(r.scenarios[0]!, "msgs", "wirehouse-bun", "ws-node"), undefined);
  });

  it("pairs the runs of the same round, whatever order they were recorded in, and skips rounds missing a side", () => {
    const r = sample();
    const sc = r.scenarios[0]!;
    assert.deepEqual(pairedRatios(sc, "msgs", "wirehouse-node", "ws-node"), [150 / 80, 160 / 100, 170 / 90]);
    const peer = sc.servers.find((s) => s.id === "ws-node")!;
    peer.runs.reverse(); // recorded order does not matter, the round does
    peer.runs.splice(0, 1); // round 3's peer run failed
    assert.deepEqual(pairedRatios(sc, "msgs", "wirehouse-node", "ws-node"), [150 / 80, 160 / 100]);
    assert.deepEqual(pairedRatios(r.scenarios[1]!, "bytes", "wirehouse-node", "ws-node"), [], "no rounds: no pairs");
    assert.deepEqual(pairedRatios(sc, "msgs", "wirehouse-bun", "ws-node"), []);
  });

  it("puts wirehouse beside its runtime's floor, and the floor beside the peer", () => {
    const r = sample();
    assert.deepEqual(floorLines(r), [], "no floor ran");
    const echo = r.scenarios[0]!;
    const rounds = (values: number[]) => values.map((v, i) => ({ metrics: { msgs: v }, details: { round: i + 1 } }));
    echo.servers.push(
      { id: "floor-node", label: "floor (Node)", runtime: "node", runs: rounds([200_000, 160_000, 170_000]) },
      // A floor whose wirehouse did not run, and the native floor (no wirehouse of its own): no line.
      { id: "floor-deno", label: "floor (Deno)", runtime: "deno", runs: rounds([1, 1, 1]) },
      { id: "floor-native", label: "floor (C)", runtime: "native", runs: rounds([1, 1, 1]) },
    );
    // wirehouse 150k/160k/170k against the floor's 200k/160k/170k: medians 160k and 170k; pairs 0.75, 1, 1.
    assert.deepEqual(floorLines(r), [
      "echo-32: wirehouse (Node) did 0.94× in messages/s (paired 1.00×, 0.75×–1.00×) of floor (Node); " +
        "the floor did 1.89× ws 8 <Node>.",
    ]);
    assert.match(
      renderTable(r),
      /Floors \(servers with no WebSocket work[^\n]*\n\n- echo-32: wirehouse \(Node\) did 0\.94×/,
    );
  });

  it("checks targets: met, not met and not measured", () => {
    const v = verdicts(sample());
    const find = (text: string) => v.find((x) => x.target.text.startsWith(text))!;
    assert.equal(find("echo 32 B: wirehouse (Node)").met, true);
    assert.equal(find("echo 32 B: wirehouse (Bun)").met, undefined);
    const mem = find("memory per idle connection: wirehouse (Node)");
    assert.equal(mem.met, false); // 2600 / 6200 = 0.42 > 0.4
    assert.ok(Math.abs(mem.measured! - 2600 / 6200) < 1e-9);
  });

  it("renders medians, min–max, ratios, skips and the target verdicts", () => {
    const md = renderTable(sample());
    assert.match(
      md,
      /\| Echo 32 B: messages\/s \| wirehouse \(Node\) \| 160,000 msgs\/s \| 150,000–170,000 \| 1\.78× ws 8 <Node> \|/,
    );
    assert.match(md, /\| ws 8 <Node> \| 90,000 msgs\/s \| 80,000–100,000 \| 1\.00× \(peer\) \|/);
    assert.match(md, /\| nginx \| — \| nginx not installed \|/);
    assert.doesNotMatch(md, /not written yet/);
    assert.match(
      md,
      /\| echo 32 B: wirehouse \(Node\) ≥ 1\.5× ws \(Node\) \| 1\.78× \| 1\.88× \(1\.60×–1\.89×\) \| met \|/,
    );
    assert.match(
      md,
      /\| memory per idle connection: wirehouse \(Node\) ≤ 40% of ws \(Node\) \| 0\.42× \| — \| not met \|/,
    );
    assert.match(md, /not measured/);
    assert.match(md, /load average 0\.1 → 0\.2/);
    assert.match(md, /- a note/);
    assert.match(md, /!\[Echo 32 B: messages\/s\]\(results\/echo-32-msgs\.svg\)/);
    assert.match(md, /\(results\/connect-10k-bytes\.svg\)/);
  });

  it("replaces only what is between the markers, or appends them", () => {
    const readme = `# title\n\nintro\n\n${TABLE_START}\nold\n${TABLE_END}\n\nafter\n`;
    const out = replaceBetweenMarkers(readme, "new table");
    assert.equal(out, `# title\n\nintro\n\n${TABLE_START}\nnew table\n${TABLE_END}\n\nafter\n`);
    assert.equal(replaceBetweenMarkers(out, "new table"), out);
    assert.ok(replaceBetweenMarkers("# x\n", "t").endsWith(`${TABLE_START}\nt\n${TABLE_END}\n`));
  });

  it("formats figures", () => {
    assert.equal(formatNumber(1234567.8), "1,234,568");
    assert.equal(formatNumber(12.345), "12.3");
    assert.equal(formatNumber(1.2345), "1.23");
    assert.equal(formatNumber(Number.NaN), "—");
  });
});

describe("results to SVG", () => {
  it("draws one bar and whisker per server with figures, escaped labels, scaled to the largest max", () => {
    const sc = sample().scenarios[0]!;
    const svg = renderChart(sc, MSGS, new Set(["wirehouse-node"]));
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assert.equal((svg.match(/<rect /g) ?? []).length, 3); // background + two bars
    assert.match(svg, /ws 8 &lt;Node&gt;/);
    assert.doesNotMatch(svg, /wirehouse \(Bun\)/);
    assert.match(svg, /fill="#d9480f"/); // wirehouse colour
    assert.match(svg, /fill="#1864ab"/); // the peer's colour
    // Bars: left edge 210, 400 px for the largest max (170,000): wirehouse's median 160,000 -> 376.5 px.
    assert.match(svg, /<rect x="210" y="\d+" width="376\.5"/);
    assert.equal(chartName(sc, MSGS), "echo-32-msgs.svg");
  });

  it("says so when no server has figures", () => {
    const sc = { ...sample().scenarios[0]!, servers: [] };
    assert.match(renderChart(sc, MSGS), /no figures/);
  });
});

describe("wrk output", () => {
  it("reads requests/s, transfer, latency percentiles and errors", () => {
    const out = `Running 2s test @ http://127.0.0.1:1/4k
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.01ms    1.20ms  20.00ms   90.00%
  Latency Distribution
     50%    4.55ms
     75%    5.00ms
     90%    6.00ms
     99%  750.00us
  33196 requests in 2.02s, 133.85MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  16451.54
Transfer/sec:     66.87MB
`;
    const r = parseWrk(out);
    assert.equal(r.requests, 33196);
    assert.equal(r.requestsPerSecond, 16451.54);
    assert.equal(r.bytesPerSecond, 66.87 * 1024 * 1024);
    assert.equal(r.latencyP50, 4.55);
    assert.equal(r.latencyP99, 0.75);
    assert.equal(r.errors, 3);
  });
});
