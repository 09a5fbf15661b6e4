// The few autocannon fields bench/php.ts reads (the package ships no types).
declare module "autocannon" {
  interface Result {
    requests: { average: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
    timeouts: number;
  }
  function autocannon(opts: {
    url: string;
    connections: number;
    duration: number;
    pipelining?: number;
  }): Promise<Result>;
  export default autocannon;
}
