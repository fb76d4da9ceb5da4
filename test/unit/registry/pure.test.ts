// Pure parts of the registry client: challenges, platforms, pull policy,
// plain-HTTP eligibility, manifest classification, progress lines.
import { describe, expect, it } from "vitest";
import { parseChallenges } from "../../../src/image/registry/challenge.js";
import { mayUsePlainHttp } from "../../../src/image/registry/client.js";
import { classifyManifest } from "../../../src/image/registry/manifest.js";
import { formatPlatform, parsePlatform, selectManifest } from "../../../src/image/registry/platform.js";
import { PassThrough } from "node:stream";
import { createTransferRenderer, formatBytes, formatTransferLine } from "../../../src/image/registry/progress.js";
import { parseDuration, pullInterval, shouldPull } from "../../../src/image/registry/pull-policy.js";

describe("parseChallenges", () => {
  const cases = [
    { name: "bearer", input: 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"', expected: [{ scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:samalba/my-app:pull,push" } }] },
    { name: "basic", input: 'Basic realm="Registry Realm"', expected: [{ scheme: "basic", params: { realm: "Registry Realm" } }] },
    { name: "two challenges", input: 'Basic realm="a", Bearer realm="https://t/x",service=s', expected: [{ scheme: "basic", params: { realm: "a" } }, { scheme: "bearer", params: { realm: "https://t/x", service: "s" } }] },
    { name: "escaped quote and error", input: 'Bearer realm="r\\"q",error="insufficient_scope"', expected: [{ scheme: "bearer", params: { realm: 'r"q', error: "insufficient_scope" } }] },
    { name: "empty", input: "", expected: [] },
    { name: "parameter without scheme", input: "realm=x", expected: [] },
  ];
  for (const c of cases) it(c.name, () => expect(parseChallenges(c.input)).toEqual(c.expected));
});

describe("platforms", () => {
  const parse = [
    { input: "linux/amd64", expected: "linux/amd64" },
    { input: "linux/arm64/v8", expected: "linux/arm64/v8" },
    { input: "linux/aarch64", expected: "linux/arm64" },
    { input: "linux/arm64/8", expected: "linux/arm64/v8" },
    { input: "linux", expected: "linux/amd64" },
    { input: "arm64", expected: "linux/arm64" },
    { input: "Linux/X86_64", expected: "linux/amd64" },
  ];
  for (const c of parse) it(`parses ${c.input}`, () => expect(formatPlatform(parsePlatform(c.input, { os: "linux", architecture: "amd64" }))).toBe(c.expected));
  it("refuses a malformed platform", () => {
    expect(() => parsePlatform("linux/amd64/v1/extra")).toThrow(/invalid platform "linux\/amd64\/v1\/extra": expected OS\/ARCH\[\/VARIANT\]/);
    expect(() => parsePlatform("linux/a md64")).toThrow(/invalid platform/);
  });

  const d = (architecture: string, variant?: string, os = "linux") => ({ mediaType: "m", digest: `sha256:${architecture}${variant ?? ""}${os}`, size: 1, platform: { os, architecture, ...(variant ? { variant } : {}) } });
  const index = [d("unknown", undefined, "unknown"), d("arm", "v6"), d("arm", "v7"), d("arm64", "v8"), d("amd64"), d("386")];
  const select = [
    { wanted: "linux/amd64", expected: "sha256:amd64linux" },
    { wanted: "linux/arm64", expected: "sha256:arm64v8linux" },
    { wanted: "linux/arm64/v8", expected: "sha256:arm64v8linux" },
    { wanted: "linux/arm", expected: "sha256:armv7linux" },
    { wanted: "linux/arm/v6", expected: "sha256:armv6linux" },
  ];
  for (const c of select) it(`selects ${c.wanted}`, () => expect(selectManifest(index, parsePlatform(c.wanted), "x").digest).toBe(c.expected));
  it("names what an index offers when nothing matches", () => {
    expect(() => selectManifest(index, parsePlatform("linux/s390x"), "img")).toThrow(/img has no image for platform linux\/s390x/);
    try {
      selectManifest(index, parsePlatform("linux/s390x"), "img");
    } catch (e) {
      expect((e as { hint: string }).hint).toBe("it offers linux/386, linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8; set `platform:` (or --platform) to one of them");
    }
    expect(() => selectManifest(index, parsePlatform("linux/arm/v5"), "img")).toThrow(/linux\/arm\/v5/);
  });
});

describe("pull policy", () => {
  const now = new Date("2024-06-10T12:00:00Z");
  const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000);
  const img = { id: "sha256:x" };
  const cases: Array<{ policy: string; local: unknown; last?: Date; expected: boolean }> = [
    { policy: "always", local: img, expected: true },
    { policy: "missing", local: img, expected: false },
    { policy: "missing", local: undefined, expected: true },
    { policy: "if_not_present", local: undefined, expected: true },
    { policy: "never", local: undefined, expected: false },
    { policy: "build", local: undefined, expected: false },
    { policy: "daily", local: img, last: hoursAgo(23), expected: false },
    { policy: "daily", local: img, last: hoursAgo(24), expected: true },
    { policy: "daily", local: undefined, last: hoursAgo(1), expected: true },
    { policy: "daily", local: img, expected: true },
    { policy: "weekly", local: img, last: hoursAgo(24 * 6), expected: false },
    { policy: "weekly", local: img, last: hoursAgo(24 * 7), expected: true },
    { policy: "every_12h", local: img, last: hoursAgo(11), expected: false },
    { policy: "every_12h", local: img, last: hoursAgo(12), expected: true },
    { policy: "every_1h30m", local: img, last: hoursAgo(1.4), expected: false },
    { policy: "every_1h30m", local: img, last: hoursAgo(1.5), expected: true },
    { policy: "every_2d", local: img, last: hoursAgo(47), expected: false },
  ];
  for (const c of cases) it(`${c.policy} local=${c.local !== undefined} last=${c.last?.toISOString() ?? "never"}`, () => expect(shouldPull(c.policy, c.local, now, c.last)).toBe(c.expected));
  it("parses durations and refuses bad ones", () => {
    expect(parseDuration("1w", "x")).toBe(604_800_000);
    expect(parseDuration("90s", "x")).toBe(90_000);
    expect(parseDuration("1.5h", "x")).toBe(5_400_000);
    for (const bad of ["", "12", "h", "12x", "0s", "-1h", "1h 2m"]) expect(() => parseDuration(bad, "pull_policy")).toThrow(`pull_policy: ${JSON.stringify(bad)} is not a duration`);
    expect(() => shouldPull("every_soon", img, now)).toThrow(/pull_policy "every_soon": "soon" is not a duration/);
    expect(() => pullInterval("sometimes")).toThrow(/unknown pull_policy "sometimes"/);
  });
});

describe("mayUsePlainHttp", () => {
  const cases = [
    { host: "localhost:5000", expected: true },
    { host: "127.0.0.1:5000", expected: true },
    { host: "127.1.2.3", expected: true },
    { host: "[::1]:5000", expected: true },
    { host: "registry.example:5000", expected: false },
    { host: "registry.example:5000", insecure: ["registry.example:5000"], expected: true },
    { host: "registry.example:5000", insecure: ["registry.example"], expected: true },
    { host: "registry.example:5001", insecure: ["registry.example:5000"], expected: false },
    { host: "128.0.0.1", expected: false },
  ];
  for (const c of cases) it(`${c.host} ${c.insecure ?? ""}`, () => expect(mayUsePlainHttp(c.host, c.insecure)).toBe(c.expected));
});

describe("classifyManifest", () => {
  const b = (v: unknown) => Buffer.from(JSON.stringify(v));
  it("tells indexes and manifests apart, with or without media types", () => {
    expect(classifyManifest(b({ schemaVersion: 2, manifests: [] }), undefined, "m").kind).toBe("index");
    expect(classifyManifest(b({ schemaVersion: 2, mediaType: "application/vnd.docker.distribution.manifest.list.v2+json", manifests: [] }), undefined, "m").kind).toBe("index");
    expect(classifyManifest(b({ schemaVersion: 2, config: {}, layers: [] }), "application/vnd.oci.image.manifest.v1+json", "m").kind).toBe("manifest");
  });
  it("refuses schema 1, other documents and non-JSON", () => {
    expect(() => classifyManifest(b({ schemaVersion: 1, fsLayers: [] }), undefined, "manifest x")).toThrow(/manifest x is a Docker schema 1 manifest/);
    expect(() => classifyManifest(b({ schemaVersion: 2, mediaType: "application/vnd.cncf.helm.config.v1+json" }), undefined, "manifest x")).toThrow(/has media type "application\/vnd\.cncf\.helm\.config\.v1\+json"/);
    expect(() => classifyManifest(Buffer.from("<html>"), undefined, "manifest x")).toThrow(/manifest x is not JSON/);
  });
});

describe("progress lines", () => {
  it("formats bytes", () => {
    expect([0, 999, 1000, 12_345, 1_234_567, 45_600_000, 2e9].map(formatBytes)).toEqual(["0B", "999B", "1.00kB", "12.3kB", "1.23MB", "45.6MB", "2.00GB"]);
  });
  const digest = "sha256:" + "ab".repeat(32);
  it("shows bar, bytes and rate while moving, and the total when done", () => {
    expect(formatTransferLine("pull", { digest, status: "downloading", current: 5_000_000, total: 10_000_000, startedAt: 0 }, 2000)).toBe(
      "abababababab: Downloading  [==============>               ]  5.00MB/10.0MB  2.50MB/s",
    );
    expect(formatTransferLine("pull", { digest, status: "done", current: 10_000_000, total: 10_000_000, startedAt: 0, endedAt: 4000 }, 9000)).toBe("abababababab: Pull complete  10.0MB in 4.0s  2.50MB/s");
    expect(formatTransferLine("pull", { digest, status: "exists", current: 1, total: 1 }, 0)).toBe("abababababab: Already exists");
    expect(formatTransferLine("push", { digest, status: "mounted", current: 1, total: 1 }, 0)).toBe("abababababab: Mounted from another repository");
    expect(formatTransferLine("push", { digest, status: "waiting", current: 0, total: 1 }, 0)).toBe("abababababab: Waiting");
  });
});

describe("transfer renderer", () => {
  const a = "sha256:" + "a".repeat(64);
  const b = "sha256:" + "b".repeat(64);
  const run = (tty: boolean) => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (c) => (text += c));
    let now = 0;
    const r = createTransferRenderer("pull", out, tty, () => now);
    r.update({ digest: a, status: "waiting", current: 0, total: 2_000_000 });
    r.update({ digest: b, status: "exists", current: 5, total: 5 });
    r.update({ digest: b, status: "done", current: 5, total: 5 });
    now = 1000;
    r.update({ digest: a, status: "downloading", current: 1_000_000, total: 2_000_000 });
    now = 1050;
    r.update({ digest: a, status: "downloading", current: 1_500_000, total: 2_000_000 });
    now = 2000;
    r.update({ digest: a, status: "verifying", current: 2_000_000, total: 2_000_000 });
    r.update({ digest: a, status: "done", current: 2_000_000, total: 2_000_000 });
    r.finish();
    return text;
  };
  it("prints one line per start and end when not a terminal", () => {
    expect(run(false)).toBe(
      ["bbbbbbbbbbbb: Already exists", "aaaaaaaaaaaa: Downloading  [==============>               ]  1.00MB/2.00MB", "aaaaaaaaaaaa: Pull complete  2.00MB in 1.0s  2.00MB/s", ""].join("\n"),
    );
  });
  it("redraws every layer in place in a terminal, at most every 100 ms while bytes move", () => {
    const text = run(true);
    expect(text).toContain("\x1b[2A");
    expect(text.match(/Downloading/g)).toHaveLength(1); // the update 50 ms later is not drawn
    expect(text.endsWith("\x1b[2K" + "aaaaaaaaaaaa: Pull complete  2.00MB in 1.0s  2.00MB/s\n\x1b[2Kbbbbbbbbbbbb: Already exists\n")).toBe(true);
  });
});
