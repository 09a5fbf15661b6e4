/** Opens N idle connections (Bun) and holds them: `hold.ts <port> <N>`. Prints "ready". */
const [port, n] = process.argv.slice(2).map(Number) as [number, number];
const B = (globalThis as unknown as { Bun: { connect(o: unknown): Promise<unknown> } }).Bun;
for (let i = 0; i < n; i += 200) {
  await Promise.all(
    Array.from({ length: Math.min(200, n - i) }, () =>
      B.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }),
    ),
  );
}
console.log("ready");
process.stdin.on("data", () => {});
process.stdin.on("end", () => process.exit(0));
