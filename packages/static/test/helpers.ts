import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { FileSystem, RequestHeaders, StaticResponse, StaticSite } from "../src/index.ts";
import { nodeFileSystem } from "../src/index.ts";

/** A fresh temporary directory with the given files (path → content). */
export function tempTree(files: Record<string, string | Uint8Array>): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "wirehouse-static-"));
  for (const [name, content] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Answer {
  status: number;
  headers: Map<string, string>;
  headerList: ReadonlyArray<readonly [string, string]>;
  body: Uint8Array | null;
  streamed: boolean;
  text: string;
}

/** Collects a response, body included. */
export async function collect(res: StaticResponse): Promise<Answer> {
  let body: Uint8Array | null = null;
  let streamed = false;
  if (res.body instanceof Uint8Array) body = res.body;
  else if (res.body !== null) {
    streamed = true;
    const parts: Uint8Array[] = [];
    for await (const c of res.body) parts.push(c);
    body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      body.set(p, o);
      o += p.length;
    }
  }
  const headers = new Map<string, string>();
  for (const [k, v] of res.headers) headers.set(k, v);
  return {
    status: res.status,
    headers,
    headerList: res.headers,
    body,
    streamed,
    text: body === null ? "" : new TextDecoder().decode(body),
  };
}

export async function get(
  site: StaticSite,
  path: string,
  headers: RequestHeaders = {},
  method = "GET",
  extra: { mount?: string; query?: string; normalized?: boolean } = {},
): Promise<Answer> {
  return collect(await site.serve({ method, path, headers, ...extra }));
}

/** node:fs with counters, to see what the cache reads. */
export function countingFs(): FileSystem & { reads: number; stats: number; streams: number } {
  const fs = {
    reads: 0,
    stats: 0,
    streams: 0,
    stat(p: string) {
      fs.stats++;
      return nodeFileSystem.stat(p);
    },
    realpath: (p: string) => nodeFileSystem.realpath(p),
    readFile(p: string) {
      fs.reads++;
      return nodeFileSystem.readFile(p);
    },
    readStream(p: string, s: number, e: number) {
      fs.streams++;
      return nodeFileSystem.readStream(p, s, e);
    },
    readdir: (p: string) => nodeFileSystem.readdir(p),
  };
  return fs;
}
