/**
 * Growing the process's descriptor table before connections arrive (Linux).
 *
 * Linux keeps a process's descriptors in one table, doubled whenever a new
 * descriptor does not fit: 256, 512, 1,024, … 16,384 entries. In a process
 * that shares its table between threads (every Node, Deno and Bun process has
 * threads), each doubling waits for an RCU grace period (`expand_fdtable` calls
 * `synchronize_rcu`). The `accept()` that needs the bigger table sleeps that
 * long, and the event loop with it: on the test VM (kernel 6.1) `strace`
 * showed the accepts returning descriptors 256, 512, 1,024, 2,048, 4,096 and
 * 8,192 taking 4 to 13 ms each, while every other connection waited. A burst
 * of 10,000 new connections crosses six doublings.
 *
 * Opening descriptors until the highest one reaches the wanted size, then
 * closing them all, makes the table that big once, before listening. A table
 * never shrinks, so this is done at most once per size in a process.
 */
import { closeSync, openSync, readFileSync } from "node:fs";
import { platform } from "node:process";

/** Descriptors left free below the soft limit for everything else the process opens. */
const HEADROOM = 1024;

/** Table size already made in this process (0: none). */
let reservedSize = 0;

/**
 * Makes the descriptor table hold at least `size` descriptors (Linux only;
 * elsewhere does nothing). Stays `HEADROOM` below the soft `RLIMIT_NOFILE`, and
 * stops quietly where opening /dev/null is refused (out of descriptors) or
 * not allowed (Deno reads /proc/self only with --allow-all): the table is
 * only a head start, connections still work without it. Synchronous.
 * Returns the size known to be made in this process (so `reserveDescriptors(0)`
 * only reads it).
 */
export function reserveDescriptors(size: number): number {
  if (platform !== "linux" || !(size > reservedSize) || !mayRead()) return reservedSize;
  const target = descriptorTarget(size, softDescriptorLimit());
  if (!(target > reservedSize)) return reservedSize;
  const opened: number[] = [];
  let highest = -1;
  try {
    // Descriptors are handed out lowest first, so the highest one opened is the table's reach.
    // The count bound keeps this finite whatever numbers the runtime returns.
    while (highest < target - 1 && opened.length < target) {
      highest = openSync("/dev/null", "r");
      opened.push(highest);
    }
  } catch {
    // Refused (permission, EMFILE): keep the room made so far.
  } finally {
    for (const fd of opened) closeSync(fd);
  }
  reservedSize = Math.max(reservedSize, Math.min(highest + 1, target));
  return reservedSize;
}

/**
 * Deno asks on the terminal before a first read it was not granted: a server started with
 * only --allow-net must not stop at listen() to ask, so the files are read only when granted
 * (and /proc/self/limits then needs --allow-all besides; without it nothing is reserved).
 */
function mayRead(): boolean {
  const deno = (globalThis as { Deno?: DenoPermissions }).Deno;
  if (deno === undefined) return true;
  try {
    return (["/proc/self/limits", "/dev/null"] as const).every(
      (path) => deno.permissions.querySync({ name: "read", path }).state === "granted",
    );
  } catch {
    return false;
  }
}

interface DenoPermissions {
  permissions: { querySync(d: { name: "read"; path: string }): { state: string } };
}

/** The table size to make for a wish of `size` under a soft limit of `softLimit` descriptors (0 or less: none). */
export function descriptorTarget(size: number, softLimit: number): number {
  return Math.min(Math.floor(size), softLimit - HEADROOM);
}

/** The soft RLIMIT_NOFILE from /proc/self/limits, or 0 when it cannot be read (then nothing is reserved). */
export function softDescriptorLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    // Linux caps this limit at fs.nr_open, so it is always a number (never "unlimited").
    const n = Number(line?.slice("Max open files".length).trim().split(/\s+/)[0]);
    return Number.isFinite(n) ? n : 0;
  } catch {
    return 0;
  }
}
