// The estimate behind the choice to write past the page cache: pure logic fed
// with timed samples, so the cases are exact; plus one real timed write.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PageCacheCost, SLOW_PAGE_NS, pageCacheCost, writePlainSync } from "../../../src/fs/page-cache-cost.js";

/** Feeds `count` writes of `bytes` each at page-aligned offsets, each costing `nsPerPage` per page. */
function feed(cost: PageCacheCost, count: number, bytes: number, nsPerPage: number): void {
  for (let i = 0; i < count; i++) cost.record(i * 1048576, bytes, (Math.ceil(bytes / 4096) * nsPerPage));
}

describe("page-cache cost", () => {
  it.each([
    { name: "no sample yet", samples: [], slow: false },
    { name: "cheap pages (a copy into memory at hand)", samples: [[40, 65_536, 600]], slow: false },
    { name: "expensive pages (host faults)", samples: [[40, 65_536, 10_000]], slow: true },
    { name: "expensive, but too little evidence (fewer than 64 pages)", samples: [[3, 65_536, 10_000]], slow: false },
    { name: "expensive once, then cheap again (files were just deleted)", samples: [[40, 65_536, 10_000], [60, 65_536, 500]], slow: false },
    { name: "cheap, then expensive (the freed memory is used up)", samples: [[40, 65_536, 500], [60, 65_536, 10_000]], slow: true },
    { name: "just under the line", samples: [[40, 65_536, SLOW_PAGE_NS - 100]], slow: false },
    // The memory is ~4 MiB of writes: a process that starts on freed memory and runs into the host's switches soon.
    { name: "100 MiB cheap, then 4 MiB expensive", samples: [[100, 1 << 20, 600], [16, 262_144, 10_000]], slow: true },
    { name: "100 MiB expensive, then 8 MiB cheap", samples: [[100, 1 << 20, 10_000], [32, 262_144, 600]], slow: false },
    // Uncapped, the first write alone would make 65 pages average 6.9 µs.
    { name: "one very slow first write (lazy set-up), then cheap pages", samples: [[1, 4096, 400_000], [1, 262_144, 900]], slow: false },
  ] as Array<{ name: string; samples: Array<[number, number, number]>; slow: boolean }>)("$name: slow is $slow", ({ samples, slow }) => {
    const cost = new PageCacheCost();
    for (const [count, bytes, ns] of samples) feed(cost, count, bytes, ns);
    expect(cost.slow).toBe(slow);
  });

  it("counts the pages a write touches from its offset", () => {
    const cost = new PageCacheCost();
    cost.record(4000, 200, 3000); // straddles two pages
    expect(cost.perPage).toBe(1500);
    const other = new PageCacheCost();
    other.record(8192, 4096, 3000); // exactly one
    expect(other.perPage).toBe(3000);
    expect(new PageCacheCost().perPage).toBeUndefined();
  });

  it("times a real plain write into the process's estimate, and writes every byte at its offset", () => {
    const dir = mkdtempSync(join(tmpdir(), "stack-page-cost-"));
    try {
      const fd = openSync(join(dir, "f"), "w");
      const before = pageCacheCost.perPage;
      writePlainSync(fd, Buffer.from("world"), 6);
      writePlainSync(fd, Buffer.from("hello "), 0);
      closeSync(fd);
      expect(readFileSync(join(dir, "f"), "utf8")).toBe("hello world");
      expect(pageCacheCost.perPage).toBeGreaterThan(0);
      expect(pageCacheCost.perPage).not.toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
