/** A CPU-bound job run on the server's worker pool: sums of squares up to n, and a checksum of bytes. */
export default function job(input: { n?: number; bytes?: Uint8Array }): { sum: number; checksum: number } {
  let sum = 0;
  for (let i = 1; i <= (input.n ?? 0); i++) sum = (sum + i * i) % 1_000_000_007;
  let checksum = 0;
  if (input.bytes) for (const b of input.bytes) checksum = (checksum * 31 + b) >>> 0;
  return { sum, checksum };
}
