import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { createTimestampClock, decodeRecord, encodeRecord, formatTimestamp, splitLines, type LogLine } from "../../../src/supervisor/log-record.js";
import { mergeByTime, parseRelativeDuration, parseTimeBound, selectLines } from "../../../src/supervisor/log-query.js";
import { parseLogSize, planRotation, rotatedNames, rotationOf } from "../../../src/supervisor/log-rotation.js";

const at = (sec: number) => formatTimestamp(BigInt(sec) * 1_000_000_000n);
const line = (container: string, sec: number, l = `${container}@${sec}`): LogLine => ({ t: at(sec), s: "stdout", l, service: container.split("-")[0]!, index: 1, container });

describe("log records", () => {
  it("round-trips with compact field names", () => {
    const r = { t: "2026-01-02T03:04:05.000000001Z", s: "stderr" as const, l: 'a "quoted"\ttab' };
    expect(encodeRecord(r)).toBe('{"t":"2026-01-02T03:04:05.000000001Z","s":"stderr","l":"a \\"quoted\\"\\ttab"}\n');
    expect(decodeRecord(encodeRecord(r).trim())).toEqual(r);
  });
  const bad = [
    { name: "torn line", input: '{"t":"2026-01-02T03:04:05.000000001Z","s":"std' },
    { name: "wrong stream", input: '{"t":"x","s":"stdin","l":"a"}' },
    { name: "empty", input: "" },
    { name: "not an object", input: "42" },
  ];
  for (const c of bad) it(`skips a ${c.name}`, () => expect(decodeRecord(c.input)).toBeUndefined());

  it("formats nanoseconds with 9 digits", () => {
    expect(formatTimestamp(1_700_000_000_123_456_789n)).toBe("2023-11-14T22:13:20.123456789Z");
    expect(formatTimestamp(0n)).toBe("1970-01-01T00:00:00.000000000Z");
  });

  it("the clock never repeats or goes back", () => {
    let hr = 0n;
    const clock = createTimestampClock(() => 1000, () => hr);
    const a = clock();
    const b = clock(); // same hrtime
    hr = 5n;
    const c = clock();
    expect([a, b, c]).toEqual(["1970-01-01T00:00:01.000000000Z", "1970-01-01T00:00:01.000000001Z", "1970-01-01T00:00:01.000000005Z"]);
  });

  const splits = [
    { name: "whole lines", pending: "", chunk: "a\nb\n", expected: { lines: ["a", "b"], rest: "" } },
    { name: "a partial end", pending: "", chunk: "a\nb", expected: { lines: ["a"], rest: "b" } },
    { name: "continues the pending part", pending: "he", chunk: "llo\nwo", expected: { lines: ["hello"], rest: "wo" } },
    { name: "CRLF", pending: "", chunk: "a\r\n", expected: { lines: ["a"], rest: "" } },
    { name: "empty lines kept", pending: "", chunk: "\n\n", expected: { lines: ["", ""], rest: "" } },
  ];
  for (const c of splits) it(`splits ${c.name}`, () => expect(splitLines(c.pending, c.chunk)).toEqual(c.expected));
});

describe("time bounds", () => {
  const now = Date.parse("2026-11-26T12:00:00Z");
  const cases = [
    { input: "10m", expected: "2026-11-26T11:50:00.000000000Z" },
    { input: "1h30m", expected: "2026-11-26T10:30:00.000000000Z" },
    { input: "1.5s", expected: "2026-11-26T11:59:58.500000000Z" },
    { input: "2d", expected: "2026-11-24T12:00:00.000000000Z" },
    { input: "2026-11-26T10:00:00Z", expected: "2026-11-26T10:00:00.000000000Z" },
    { input: "2026-11-26T10:00:00+02:00", expected: "2026-11-26T08:00:00.000000000Z" },
    { input: "2026-11-26T10:00:00.250Z", expected: "2026-11-26T10:00:00.250000000Z" },
    { input: "2026-11-26T10:00", expected: "2026-11-26T10:00:00.000000000Z" },
    { input: "2026-11-25", expected: "2026-11-25T00:00:00.000000000Z" },
    { input: "1700000000", expected: "2023-11-14T22:13:20.000000000Z" },
  ];
  for (const c of cases) it(c.input, () => expect(parseTimeBound(c.input, now)).toBe(c.expected));
  for (const bad of ["yesterday", "10 minutes", "2026-13-45T99:99:99Z", "", "1h-5m"]) {
    it(`rejects ${JSON.stringify(bad)} with a hint`, () => {
      expect(() => parseTimeBound(bad, now, "--until")).toThrow(InvalidInputError);
      expect(() => parseTimeBound(bad, now, "--until")).toThrow(`--until: cannot read ${JSON.stringify(bad)} as a time`);
    });
  }
  it("durations", () => {
    expect(parseRelativeDuration("250ms")).toBe(250);
    expect(parseRelativeDuration("1h")).toBe(3_600_000);
    expect(parseRelativeDuration("abc")).toBeUndefined();
  });
});

describe("selecting and merging", () => {
  const web = [line("web-1", 1), line("web-1", 3), line("web-1", 5), line("web-1", 7)];
  const db = [line("db-1", 2), line("db-1", 3), line("db-1", 6)];
  const cases = [
    { name: "all", query: {}, expected: [1, 3, 5, 7] },
    { name: "tail 2", query: { tail: 2 }, expected: [5, 7] },
    { name: "tail 0", query: { tail: 0 }, expected: [] },
    { name: "tail larger than the log", query: { tail: 10 }, expected: [1, 3, 5, 7] },
    { name: "since (inclusive)", query: { since: at(3) }, expected: [3, 5, 7] },
    { name: "until (inclusive)", query: { until: at(5) }, expected: [1, 3, 5] },
    { name: "since + until + tail: tail applies within the window", query: { since: at(2), until: at(6), tail: 1 }, expected: [5] },
  ];
  for (const c of cases) it(c.name, () => expect(selectLines(web, c.query).map((l) => Number(l.l.split("@")[1]))).toEqual(c.expected));

  it("merges by timestamp, ties in the order of the containers given", () => {
    expect(mergeByTime([db, web]).map((l) => l.l)).toEqual(["web-1@1", "db-1@2", "db-1@3", "web-1@3", "web-1@5", "db-1@6", "web-1@7"]);
    expect(mergeByTime([])).toEqual([]);
    expect(mergeByTime([[], db]).map((l) => l.l)).toEqual(["db-1@2", "db-1@3", "db-1@6"]);
  });
});

describe("rotation", () => {
  it("names files newest first", () => {
    expect(rotatedNames(3)).toEqual(["current.jsonl", "current.jsonl.1", "current.jsonl.2"]);
    expect(rotatedNames(2, "events.jsonl")).toEqual(["events.jsonl", "events.jsonl.1"]);
  });
  const plans = [
    { maxFiles: 3, expected: { renames: [["current.jsonl.1", "current.jsonl.2"], ["current.jsonl", "current.jsonl.1"]] } },
    { maxFiles: 2, expected: { renames: [["current.jsonl", "current.jsonl.1"]] } },
    { maxFiles: 1, expected: { remove: "current.jsonl", renames: [] } },
  ];
  for (const c of plans) it(`plans max-file ${c.maxFiles}`, () => expect(planRotation(c.maxFiles)).toEqual(c.expected));

  const sizes = [
    { input: "10m", expected: 10 * 1024 * 1024 },
    { input: "512k", expected: 512 * 1024 },
    { input: "1g", expected: 1024 ** 3 },
    { input: "2048", expected: 2048 },
    { input: "1.5MB", expected: 1.5 * 1024 * 1024 },
  ];
  for (const c of sizes) it(`reads size ${c.input}`, () => expect(parseLogSize(c.input, "x")).toBe(c.expected));
  for (const bad of ["", "ten", "0", "10q", "-5m"]) {
    it(`rejects size ${JSON.stringify(bad)}`, () => expect(() => parseLogSize(bad, "services.web.logging.options.max-size")).toThrow(`services.web.logging.options.max-size: invalid size ${JSON.stringify(bad)}`));
  }
  it("takes max-size and max-file from logging.options, defaults 10 MB x 3", () => {
    expect(rotationOf(undefined)).toEqual({ maxSizeBytes: 10 * 1024 * 1024, maxFiles: 3 });
    expect(rotationOf({ "max-size": "1m", "max-file": "5", compress: "true" })).toEqual({ maxSizeBytes: 1024 * 1024, maxFiles: 5 });
  });
  for (const bad of ["0", "two", "1.5"]) {
    it(`rejects max-file ${bad}`, () => expect(() => rotationOf({ "max-file": bad })).toThrow(InvalidInputError));
  }
});
