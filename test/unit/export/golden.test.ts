// Golden cases: test/fixtures/export/<case>/model.json (a partial StackModel,
// completed with defaults by model-factory.ts) plus an optional case.json
// ({options, files, env}) → expected.yaml: the warnings as `# WARN` comment
// lines, then the manifests exactly as `stack export kubernetes` prints them.
// Every manifest of every case must also validate against the Kubernetes API
// schemas. UPDATE_GOLDEN=1 rewrites expected.yaml (review the diff!).
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { checkManifests } from "../../../src/export/kubernetes/check.js";
import { renderManifests } from "../../../src/export/kubernetes/render.js";
import { exportKubernetes, type KubernetesExportOptions } from "../../../src/export/kubernetes/translate.js";
import { stackFrom } from "./model-factory.js";

const root = fileURLToPath(new URL("../../fixtures/export/", import.meta.url));
const cases = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(root, d.name, "model.json")))
  .map((d) => d.name)
  .sort();

interface CaseSettings {
  options?: Partial<KubernetesExportOptions>;
  files?: Record<string, string>;
  env?: Record<string, string>;
}

function runCase(dir: string): { text: string; objects: ReturnType<typeof exportKubernetes>["objects"] } {
  const model = stackFrom(JSON.parse(readFileSync(join(dir, "model.json"), "utf8")));
  const settings: CaseSettings = existsSync(join(dir, "case.json")) ? JSON.parse(readFileSync(join(dir, "case.json"), "utf8")) : {};
  const files = settings.files ?? {};
  const result = exportKubernetes(model, { serviceType: "ClusterIP", ...settings.options }, {
    readFile: (path) => (path in files ? new TextEncoder().encode(files[path]) : undefined),
    env: settings.env ?? {},
  });
  const warnings = result.warnings.map((w) => `# WARN ${w}\n`).join("");
  return { text: warnings + renderManifests(result.objects), objects: result.objects };
}

describe("stack export kubernetes golden cases", () => {
  it("has cases", () => {
    expect(cases.length).toBeGreaterThan(5);
  });
  for (const name of cases) {
    describe(name, () => {
      const dir = join(root, name);
      const { text, objects } = runCase(dir);
      it("renders the expected manifests and warnings", () => {
        const expectedPath = join(dir, "expected.yaml");
        if (process.env.UPDATE_GOLDEN === "1") writeFileSync(expectedPath, text);
        expect(text).toBe(readFileSync(expectedPath, "utf8"));
      });
      it("validates against the Kubernetes API schemas", async () => {
        expect(objects.length).toBeGreaterThan(0);
        expect(await checkManifests(objects)).toEqual([]);
      });
      it("round-trips: the YAML read back (as YAML 1.1, like kubectl) is the objects", () => {
        const docs = parseAllDocuments(renderManifests(objects), { version: "1.1" });
        expect(Array.isArray(docs) ? docs.map((d) => d.toJS()) : []).toEqual(JSON.parse(JSON.stringify(objects)));
      });
      it("is stable: a second run renders the same bytes", () => {
        expect(runCase(dir).text).toBe(text);
      });
    });
  }
});
