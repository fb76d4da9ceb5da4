// Golden folders: test/fixtures/config/golden/<case>/compose.yaml is parsed,
// validated, normalized and checked; the model, as canonical JSON (keys
// sorted), must equal expected.json in the same folder, and the expected
// warnings be given. (What `stack config` prints from it: compose-file.test.ts.)
// Every case runs as project "golden" in /srv/golden with HOME=/home/dev.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { normalizeStack } from "../../../src/schema/normalize.js";
import { sortDeep } from "../../../src/schema/canonical.js";
import { checkStack } from "../../../src/schema/semantics.js";
import { validateFile } from "../../../src/schema/validate.js";
import { parseYamlFile } from "../../../src/schema/yaml-file.js";

const root = fileURLToPath(new URL("../../fixtures/config/golden/", import.meta.url));
const envFiles: Record<string, Record<string, string>> = { "/srv/golden/app.env": { NODE_ENV: "development", FROM_FILE: "1" } };
const expectedWarnings: Record<string, string[]> = {
  "short-forms": ["version: the top-level `version` is obsolete and ignored; remove it", "services.app.gpus: accepted but not acted on by stack"],
};

describe("golden normalization", () => {
  it.each(readdirSync(root).sort())("%s", (name) => {
    const file = parseYamlFile(readFileSync(join(root, name, "compose.yaml"), "utf8"), "compose.yaml");
    expect(validateFile(file)).toEqual([]);
    const { model, warnings } = normalizeStack({
      name: "golden",
      projectDir: "/srv/golden",
      files: ["/srv/golden/compose.yaml"],
      profiles: [],
      doc: file.doc,
      env: { HOME: "/home/dev", FROM_SHELL: "shell-value" },
      readEnvFile: (p) => envFiles[p],
    });
    expect(checkStack(model)).toEqual([]);
    expect(warnings).toEqual(expectedWarnings[name] ?? []);
    expect(`${JSON.stringify(sortDeep(model), null, 2)}\n`).toBe(readFileSync(join(root, name, "expected.json"), "utf8"));
  });
});
