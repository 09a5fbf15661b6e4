/**
 * `fetch` for scripts: off unless the host lists origins. The host's fetch
 * (global `fetch` by default) does the request; the script gets a promise of
 * a small Response-like object (status, ok, url, headers, text(), json()).
 * @module
 */

export interface FetchPolicy {
  /** Origins scripts may fetch from, e.g. "https://api.example.com". "*" allows any http(s) origin. */
  allow: string[];
  /** The fetch to use (default: the runtime's global fetch). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Largest response body read, in bytes (default 1 MiB). */
  maxBytes?: number;
  /** Time limit of one fetch in ms (default 10,000). */
  timeoutMs?: number;
}

/** Returns why `url` may not be fetched, or undefined when it may. */
export function checkFetchAllowed(policy: FetchPolicy, url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `fetch: invalid URL ${JSON.stringify(url)}`;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return `fetch: scheme not allowed: ${u.protocol}`;
  if (policy.allow.includes("*") || policy.allow.includes(u.origin)) return undefined;
  return `fetch: origin not allowed: ${u.origin}`;
}

/** Runs a fetch for a script; resolves with JSON text {status, url, headers, body}. */
export async function runFetch(policy: FetchPolicy, url: string, initJson: string): Promise<string> {
  const init = JSON.parse(initJson || "{}") as { method?: string; headers?: Record<string, string>; body?: string };
  const doFetch = policy.fetch ?? ((u: string, i: RequestInit) => globalThis.fetch(u, i));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), policy.timeoutMs ?? 10_000);
  try {
    const res = await doFetch(url, {
      method: init.method ?? "GET",
      headers: init.headers ?? {},
      body: init.body,
      signal: controller.signal,
      redirect: "manual",
    });
    const max = policy.maxBytes ?? 1024 * 1024;
    const buf = new Uint8Array(await res.arrayBuffer());
    if (buf.length > max) throw new Error(`response larger than ${max} bytes`);
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k] = v;
    });
    return JSON.stringify({ status: res.status, url: res.url || url, headers, body: new TextDecoder().decode(buf) });
  } finally {
    clearTimeout(timer);
  }
}
