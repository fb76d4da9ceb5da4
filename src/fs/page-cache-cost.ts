// Whether to write past the page cache (fs/direct-write.ts) is decided by
// what the page cache costs here, measured on the plain writes made anyway
// (small files, the last partial block of large ones, anything before the
// first decision). Usually a page-cache write is a copy into memory the
// kernel has at hand, well under a microsecond per page, and then it is the
// cheaper way: no device time while the command runs. But on a VM whose free
// memory the host takes back, every fresh page costs a host fault, ~10 µs
// (200 MB: ~550 ms of kernel CPU), and then a direct write, which costs the
// CPU almost nothing, is cheaper. Right after many files were deleted, the
// same VM has cheap pages again for a while: the estimate follows recent
// writes, so the choice follows the machine.
import { writeSync } from "node:fs";

const PAGE = 4096;
/** Above this many nanoseconds per fresh page, direct writes are preferred (a direct write's CPU cost is ~0.5 µs per page). */
export const SLOW_PAGE_NS = 4000;
/** A sample counts for at most this much per page: a host fault costs ~10 µs; more than this is something else. */
const MAX_PAGE_NS = 30_000;
/** Pages of evidence before the page cache may be called slow. */
const MIN_PAGES = 64;
/**
 * What each page written weighs on the past: a memory of ~1 000 pages (4 MiB).
 * Short, because a new process often starts on memory the last one freed
 * (cheap) and runs into the host's (dear) a few tens of MiB later.
 */
const DECAY_PER_PAGE = 0.999;

/** A running estimate of the cost of a page-cache write per page touched. Pure: the caller times the writes. */
export class PageCacheCost {
  private ns = 0;
  private pages = 0;
  private seen = 0;

  /** One plain write of `bytes` at file offset `position`, which took `ns`. */
  record(position: number, bytes: number, ns: number): void {
    if (bytes <= 0) return;
    const pages = Math.ceil((position + bytes) / PAGE) - Math.floor(position / PAGE);
    const keep = DECAY_PER_PAGE ** pages;
    // One outlier (the process's first write pays for lazy set-up, ~150 µs) must not outweigh the next hundred pages.
    this.ns = this.ns * keep + Math.min(ns, pages * MAX_PAGE_NS);
    this.pages = this.pages * keep + pages;
    this.seen += pages;
  }

  /** Nanoseconds per page, or undefined before any sample. */
  get perPage(): number | undefined {
    return this.pages > 0 ? this.ns / this.pages : undefined;
  }

  /** Whether large writes should go past the page cache: only on evidence that it is slow. */
  get slow(): boolean {
    return this.seen >= MIN_PAGES && this.ns / this.pages > SLOW_PAGE_NS;
  }
}

/** This process's estimate, fed by writePlainSync. */
export const pageCacheCost = new PageCacheCost();

/** Writes all of `bytes` at file offset `position` through the page cache, timing it for the estimate. */
export function writePlainSync(fd: number, bytes: Uint8Array, position: number): void {
  const t0 = process.hrtime.bigint();
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  pageCacheCost.record(position, bytes.length, Number(process.hrtime.bigint() - t0));
}
