// The OCI runtime-spec's own JSON schema (test/fixtures/oci-runtime-spec) as
// a validator for generated configs. The schema is draft-04 with "id"
// keywords; ajv reads it as draft-07 with "id" ignored, and each file gets
// the $id its relative $refs expect.
import { Ajv } from "ajv";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../../fixtures/oci-runtime-spec/", import.meta.url));
const BASE = "https://stack.test/oci/";

/** Drops draft-04 "id" keywords (URLs), which ajv 8 refuses; their refs resolve against the file's $id instead. */
function dropIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropIds);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).filter(([k, v]) => !(k === "id" && typeof v === "string" && v.startsWith("https://"))).map(([k, v]) => [k, dropIds(v)]),
  );
}

function load(name: string): Record<string, unknown> {
  const schema = dropIds(JSON.parse(readFileSync(dir + name, "utf8"))) as Record<string, unknown>;
  delete schema.$schema;
  return { ...schema, $id: BASE + name };
}

export function ociConfigValidator(): (config: unknown) => string[] {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const defs = load("defs.json") as { definitions: Record<string, unknown> };
  const defsLinux = load("defs-linux.json") as { definitions: Record<string, unknown> };
  // Stand-ins for definitions newer than the stored defs files (see NOTICE).
  defs.definitions.ArrayOfHooks = { type: "array" };
  defs.definitions.Umask = { type: "integer", minimum: 0 };
  defsLinux.definitions.SchedulerPolicy = { type: "string" };
  defsLinux.definitions.SchedulerFlag = { type: "string" };
  ajv.addSchema(defs);
  ajv.addSchema(defsLinux);
  ajv.addSchema(load("config-linux.json"));
  for (const platform of ["solaris", "windows", "vm", "zos"]) ajv.addSchema({ $id: `${BASE}config-${platform}.json`, [platform]: { type: "object" } });
  const validate = ajv.compile(load("config-schema.json"));
  return (config) => (validate(config) ? [] : (validate.errors ?? []).map((e: { instancePath: string; message?: string }) => `${e.instancePath} ${e.message}`));
}
