import assert from "node:assert/strict";
import os from "node:os";
import { describe, it } from "node:test";
import { JobError, JobPool, JobQueueFullError, JobTimeoutError } from "../src/jobs.ts";

const sumJob = new URL("./fixtures/sum-job.mjs", import.meta.url);
const typedJob = new URL("./fixtures/typed-job.ts", import.meta.url);

describe("JobPool", () => {
  it("runs jobs on worker threads and returns their results", async () => {
    const pool = new JobPool({ size: 2 });
    try {
      const results = await Promise.all([1, 10, 100, 1000].map((n) => pool.run(sumJob, { n })));
      assert.deepEqual(results, [{ sum: 0 }, { sum: 45 }, { sum: 4950 }, { sum: 499500 }]);
    } finally {
      pool.close();
    }
  });

  it("loads a TypeScript job module", async () => {
    const pool = new JobPool({ size: 1 });
    try {
      assert.equal(await pool.run(typedJob, { value: 21 }), 42);
    } finally {
      pool.close();
    }
  });

  it("reports a job's error and keeps serving", async () => {
    const pool = new JobPool({ size: 1 });
    try {
      await assert.rejects(pool.run(sumJob, { fail: true }), (e: unknown) => {
        assert.ok(e instanceof JobError);
        assert.match(e.message, /asked to fail/);
        return true;
      });
      assert.deepEqual(await pool.run(sumJob, { n: 3 }), { sum: 3 });
    } finally {
      pool.close();
    }
  });

  it("stops a job past its time limit and replaces the worker", async () => {
    const pool = new JobPool({ size: 1 });
    try {
      await assert.rejects(pool.run(sumJob, { spin: true }, { timeoutMs: 200 }), JobTimeoutError);
      assert.deepEqual(await pool.run(sumJob, { n: 4 }), { sum: 6 });
    } finally {
      pool.close();
    }
  });

  it("defaults to one worker per core", () => {
    const pool = new JobPool();
    assert.equal(pool.size, os.availableParallelism());
    pool.close();
  });

  it("bounds waiting jobs with maxQueue (JobQueueFullError) and serves again once a worker is free", async () => {
    const pool = new JobPool({ size: 1, maxQueue: 1 });
    try {
      const running = pool.run(sumJob, { n: 5 });
      const waiting = pool.run(sumJob, { n: 6 });
      await assert.rejects(pool.run(sumJob, { n: 7 }), JobQueueFullError);
      assert.deepEqual(await running, { sum: 10 });
      assert.deepEqual(await waiting, { sum: 15 });
      assert.deepEqual(await pool.run(sumJob, { n: 3 }), { sum: 3 });
    } finally {
      pool.close();
    }
  });

  it("rejects jobs after close", async () => {
    const pool = new JobPool({ size: 1 });
    pool.close();
    await assert.rejects(pool.run(sumJob, { n: 1 }), /closed/);
  });
});
