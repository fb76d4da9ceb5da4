import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { checkServiceName, isDns1123Label, isLabelKey, isLabelValue, objectNameFor, suggestLabel } from "../../../src/export/kubernetes/names.js";
import { nativeProbeAction, probeFor } from "../../../src/export/kubernetes/probes.js";
import { cpuQuantity, memoryQuantity } from "../../../src/export/kubernetes/quantities.js";
import { canonical } from "../../../src/export/kubernetes/render.js";
import { splitShellWords } from "../../../src/export/kubernetes/shell-words.js";

describe("splitShellWords", () => {
  const cases: Array<{ name: string; input: string; expected: string[] }> = [
    { name: "blanks", input: "  a  b\tc ", expected: ["a", "b", "c"] },
    { name: "single quotes keep everything", input: `sh -c 'echo "$HOME" \\n'`, expected: ["sh", "-c", 'echo "$HOME" \\n'] },
    { name: "double quotes and escapes", input: `say "a \\"b\\" \\$c \\x"`, expected: ["say", 'a "b" $c \\x'] },
    { name: "backslash outside quotes", input: "a\\ b c", expected: ["a b", "c"] },
    { name: "empty quoted word", input: `a "" ''`, expected: ["a", "", ""] },
    { name: "adjacent quotes join", input: `--opt="a b"'c'`, expected: ["--opt=a bc"] },
    { name: "operators are words", input: "a && b | c", expected: ["a", "&&", "b", "|", "c"] },
    { name: "empty", input: "", expected: [] },
  ];
  for (const c of cases) it(c.name, () => expect(splitShellWords(c.input, "x")).toEqual(c.expected));
  it("rejects an unterminated quote, naming the path and value", () => {
    expect(() => splitShellWords(`echo 'oops`, "services.web.command")).toThrow(InvalidInputError);
    expect(() => splitShellWords(`echo "oops`, "services.web.command")).toThrow(/services\.web\.command: "echo \\"oops" has an unterminated double quote/);
  });
});

describe("nativeProbeAction", () => {
  const cases: Array<{ name: string; argv: string[]; expected: unknown }> = [
    { name: "curl -f", argv: ["curl", "-f", "http://localhost:8080/health"], expected: { httpGet: { path: "/health", port: 8080, scheme: "HTTP" } } },
    { name: "curl combined flags, no path", argv: ["/usr/bin/curl", "-fsS", "http://127.0.0.1"], expected: { httpGet: { path: "/", port: 80, scheme: "HTTP" } } },
    { name: "curl https", argv: ["curl", "--fail", "-o", "/dev/null", "https://localhost/x"], expected: { httpGet: { path: "/x", port: 443, scheme: "HTTPS" } } },
    { name: "curl without scheme", argv: ["curl", "--fail", "--max-time=5", "localhost:9200/_h"], expected: { httpGet: { path: "/_h", port: 9200, scheme: "HTTP" } } },
    { name: "curl without -f is not a check of the status", argv: ["curl", "http://localhost/"], expected: undefined },
    { name: "curl of another host", argv: ["curl", "-f", "http://db:5432/"], expected: undefined },
    { name: "curl with an unknown flag", argv: ["curl", "-f", "-X", "POST", "http://localhost/"], expected: undefined },
    { name: "curl with two URLs", argv: ["curl", "-f", "http://localhost/a", "http://localhost/b"], expected: undefined },
    { name: "wget --spider", argv: ["wget", "-q", "--spider", "http://localhost:3000/ping"], expected: { httpGet: { path: "/ping", port: 3000, scheme: "HTTP" } } },
    { name: "wget -qO-", argv: ["wget", "-qO-", "http://localhost:3000/"], expected: { httpGet: { path: "/", port: 3000, scheme: "HTTP" } } },
    { name: "wget -O /dev/null", argv: ["wget", "-O", "/dev/null", "http://localhost/"], expected: { httpGet: { path: "/", port: 80, scheme: "HTTP" } } },
    { name: "wget -O file writes a file", argv: ["wget", "-O", "/tmp/x", "http://localhost/"], expected: undefined },
    { name: "nc -z", argv: ["nc", "-z", "localhost", "6379"], expected: { tcpSocket: { port: 6379 } } },
    { name: "nc -zv -w 1", argv: ["nc", "-zv", "-w", "1", "127.0.0.1", "5432"], expected: { tcpSocket: { port: 5432 } } },
    { name: "nc without -z", argv: ["nc", "localhost", "6379"], expected: undefined },
    { name: "nc to another host", argv: ["nc", "-z", "db", "5432"], expected: undefined },
    { name: "nc with a bad port", argv: ["nc", "-z", "localhost", "99999"], expected: undefined },
    { name: "other tool", argv: ["pg_isready"], expected: undefined },
  ];
  for (const c of cases) it(c.name, () => expect(nativeProbeAction(c.argv)).toEqual(c.expected));
});

describe("probeFor", () => {
  const base = { interval: 30_000, timeout: 30_000, retries: 3, start_period: 0, start_interval: 5_000, disable: false };
  it("maps the timings: ms → whole seconds rounded up, at least 1", () => {
    expect(probeFor({ ...base, test: ["CMD", "true"], interval: 500, timeout: 2_001, retries: 0, start_period: 15_500 }, "s")).toEqual({
      exec: { command: ["true"] },
      initialDelaySeconds: 15,
      periodSeconds: 1,
      timeoutSeconds: 3,
      failureThreshold: 1,
    });
  });
  it("runs CMD-SHELL through /bin/sh -c, and detects a plain curl with || exit 1", () => {
    expect(probeFor({ ...base, test: ["CMD-SHELL", "test -f /ready && echo ok"] }, "s")?.exec).toEqual({ command: ["/bin/sh", "-c", "test -f /ready && echo ok"] });
    expect(probeFor({ ...base, test: ["CMD-SHELL", "curl -f http://localhost:81/ || exit 1"] }, "s")?.httpGet).toEqual({ path: "/", port: 81, scheme: "HTTP" });
  });
  it("has no probe for NONE, disable, or no healthcheck", () => {
    expect(probeFor({ ...base, test: ["NONE"] }, "s")).toBeUndefined();
    expect(probeFor({ ...base, test: ["CMD", "x"], disable: true }, "s")).toBeUndefined();
    expect(probeFor(undefined, "s")).toBeUndefined();
  });
});

describe("names", () => {
  it("checks DNS labels", () => {
    expect(isDns1123Label("web-1")).toBe(true);
    expect(isDns1123Label("Web")).toBe(false);
    expect(isDns1123Label("a".repeat(64))).toBe(false);
  });
  it("suggests a valid name", () => {
    expect(suggestLabel("My_Service.v2")).toBe("my-service-v2");
    expect(suggestLabel("1st")).toBe("s-1st");
  });
  it("rejects a service name that is not a DNS-1035 label, with a suggestion", () => {
    expect(() => checkServiceName("web_app", 7)).toThrow(InvalidInputError);
    try {
      checkServiceName("web_app", 7);
    } catch (e) {
      expect((e as InvalidInputError).message).toContain('services.web_app: "web_app" is not a valid Kubernetes name');
      expect((e as InvalidInputError).hint).toContain('rename the service to "web-app"');
    }
    expect(() => checkServiceName("2fa", 7)).toThrow(/starting with a letter/);
    expect(() => checkServiceName("a".repeat(60), 7)).toThrow(/at most 56 characters/);
    expect(() => checkServiceName("web-app", 7)).not.toThrow();
  });
  it("renames volume, config and secret keys by the documented rule", () => {
    expect(objectNameFor("db_data", "volumes.db_data")).toBe("db-data");
    expect(objectNameFor("My.Config", "configs.My.Config")).toBe("my-config");
    expect(() => objectNameFor("___", "volumes.___")).toThrow(/volumes\.___: "___" cannot be turned into a Kubernetes name/);
  });
  it("checks label keys and values", () => {
    expect(isLabelKey("app.kubernetes.io/name")).toBe(true);
    expect(isLabelKey("com.example.description")).toBe(true);
    expect(isLabelKey("bad key")).toBe(false);
    expect(isLabelValue("a value with spaces")).toBe(false);
    expect(isLabelValue("")).toBe(true);
  });
});

describe("quantities", () => {
  const cpu: Array<[number, string]> = [[0.5, "500m"], [2, "2"], [1.25, "1250m"], [0.001, "1m"]];
  for (const [input, expected] of cpu) it(`cpu ${input} → ${expected}`, () => expect(cpuQuantity(input)).toBe(expected));
  const memory: Array<[number, string]> = [[536870912, "512Mi"], [2 ** 30, "1Gi"], [1536 * 2 ** 20, "1536Mi"], [1000, "1000"], [4096, "4Ki"]];
  for (const [input, expected] of memory) it(`memory ${input} → ${expected}`, () => expect(memoryQuantity(input)).toBe(expected));
});

describe("canonical key order", () => {
  it("puts apiVersion, kind, metadata, name, namespace first, then the rest alphabetically, at every depth", () => {
    const out = canonical({ spec: { z: 1, name: "n", a: [{ value: 1, name: "x" }] }, metadata: { namespace: "ns", labels: {}, name: "o" }, kind: "K", apiVersion: "v1" });
    expect(JSON.stringify(out)).toBe('{"apiVersion":"v1","kind":"K","metadata":{"name":"o","namespace":"ns","labels":{}},"spec":{"name":"n","a":[{"name":"x","value":1}],"z":1}}');
  });
});
