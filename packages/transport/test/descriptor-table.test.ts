import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { platform } from "node:process";
import { describe, it } from "node:test";
import { descriptorTarget, softDescriptorLimit } from "../src/descriptor-table.ts";
import { listen, reserveDescriptors } from "../src/index.ts";

/** The kernel's descriptor table size for this process (Linux: FDSize in /proc/self/status). */
function tableSize(): number {
  const m = /^FDSize:\s+(\d+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
  assert.ok(m, "FDSize in /proc/self/status");
  return Number(m[1]);
}

/**
 * Descriptors of this process open on /dev/null now (only those: the test runner and its loader open and close
 * other descriptors of their own while a test runs, which a plain count would take for a leak).
 */
function openOnDevNull(): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === "/dev/null") n++;
    } catch {
      // closed between the listing and the readlink (the listing's own descriptor, say)
    }
  }
  return n;
}

describe("descriptor table", () => {
  it("aims below the soft open-files limit, keeping 1,024 free", () => {
    assert.equal(descriptorTarget(10_256, 1_048_576), 10_256);
    assert.equal(descriptorTarget(10_256, 4_096), 3_072);
    assert.equal(descriptorTarget(100.7, 4_096), 100);
    assert.ok(descriptorTarget(10_256, 1_024) <= 0, "a 1,024 limit leaves nothing to reserve");
    assert.ok(descriptorTarget(10_256, 0) <= 0, "an unreadable limit reserves nothing");
  });

  if (platform !== "linux") {
    it("does nothing where the table is not the kernel's doubling kind (not Linux)", () => {
      assert.equal(reserveDescriptors(4096), 0);
    });
    return;
  }

  it("reads the soft limit from /proc/self/limits", () => {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    assert.ok(line);
    const soft = line.split(/\s+/)[3];
    assert.equal(softDescriptorLimit(), Number(soft));
    assert.ok(softDescriptorLimit() > 0);
  });

  it("grows the table to the size asked for and closes every descriptor it opened", () => {
    const before = tableSize();
    const want = before * 2;
    const open = openOnDevNull();
    const made = reserveDescriptors(want);
    assert.equal(openOnDevNull(), open, "nothing left open");
    if (descriptorTarget(want, softDescriptorLimit()) >= want) {
      assert.ok(made >= want, `made ${made}, wanted ${want}`);
      assert.ok(tableSize() >= want, `table ${tableSize()} after asking for ${want}`);
    } else {
      assert.ok(made < want, "stays below the open-files limit");
    }
    assert.equal(reserveDescriptors(want), made, "asking again for the same size changes nothing");
  });

  it("listen() grows the table first when given reserveDescriptors", async () => {
    const want = tableSize() * 2;
    const listener = await listen({ port: 0, hostname: "127.0.0.1", reserveDescriptors: want }, { data() {} });
    try {
      if (descriptorTarget(want, softDescriptorLimit()) >= want) assert.ok(tableSize() >= want);
      else assert.ok(tableSize() < want * 2, "no growth past the limit's room");
    } finally {
      await listener.close();
    }
  });
});
