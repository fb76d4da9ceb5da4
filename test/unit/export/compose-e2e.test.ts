// End to end: a compose.yaml of our own, loaded by loadStack, exported, and
// compared with test/fixtures/export/compose-e2e/expected.yaml; then the same
// through the built CLI (bin/stack), to stdout and to a folder, with --check.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { checkManifests } from "../../../src/export/kubernetes/check.js";
import { renderManifests } from "../../../src/export/kubernetes/render.js";
import { exportKubernetes } from "../../../src/export/kubernetes/translate.js";
import { loadStack } from "../../../src/schema/load.js";
import { runStack } from "../../helpers/cli.js";

const dir = fileURLToPath(new URL("../../fixtures/export/compose-e2e/", import.meta.url));
const expectedPath = join(dir, "expected.yaml");

async function exportFixture() {
  const { model } = await loadStack({ files: [join(dir, "compose.yaml")], cwd: dir, env: {}, profiles: [], envFiles: [], interpolate: true });
  return exportKubernetes(model, { serviceType: "LoadBalancer" }, { readFile: (p) => readFileSync(p), env: {} });
}

describe("compose.yaml → loadStack → export kubernetes", () => {
  it("renders the expected manifests and warnings", async () => {
    const result = await exportFixture();
    const text = result.warnings.map((w) => `# WARN ${w}\n`).join("") + renderManifests(result.objects);
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(expectedPath, text);
    expect(text).toBe(readFileSync(expectedPath, "utf8"));
    expect(await checkManifests(result.objects)).toEqual([]);
  });
});

describe("bin/stack export kubernetes", () => {
  const out = mkdtempSync(join(tmpdir(), "stack-export-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const file = join(dir, "compose.yaml");

  it("prints the manifests on stdout, the warnings and the check on stderr", async () => {
    const r = await runStack(["-f", file, "export", "kubernetes", "--check", "--service-type", "LoadBalancer"], { cwd: dir });
    const expected = readFileSync(expectedPath, "utf8");
    const count = expected.split("\n").filter((l) => l === "---").length;
    expect(r.stderr).toContain(`checked ${count} objects against the Kubernetes v1.33.0 API schemas (kubernetes-models 4.5): all valid`);
    const warnings = expected.split("\n").filter((l) => l.startsWith("# WARN ")).map((l) => `WARN ${l.slice("# WARN ".length)}`);
    for (const w of warnings) expect(r.stderr).toContain(w);
    expect(r.stdout).toBe(expected.split("\n").filter((l) => !l.startsWith("# WARN ")).join("\n"));
    expect(r.exitCode).toBe(0);
  });

  it("writes one file per object into -o DIR", async () => {
    const r = await runStack(["-f", file, "export", "kubernetes", "-o", out, "--namespace", "e2e"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const files = readdirSync(out).sort();
    expect(files[0]).toBe("00-namespace-e2e.yaml");
    expect(files).toContain("10-deployment-web.yaml");
    expect(readFileSync(join(out, "10-deployment-web.yaml"), "utf8")).toMatch(/^apiVersion: apps\/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: e2e\n/);
    expect(r.stderr).toContain(`wrote ${files.length} manifests to ${out}`);
  });

  it("rejects a bad --namespace with one clear line and writes nothing", async () => {
    const r = await runStack(["-f", file, "export", "kubernetes", "--namespace", "Bad_NS"], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error: --namespace: "Bad_NS" is not a valid namespace name');
    expect(r.stdout).toBe("");
  });
});
