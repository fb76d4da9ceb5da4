// Precompiles schemas/stack.schema.json into a standalone ajv validator
// (src/schema/generated/validate-stack.js) so that the CLI never compiles the
// schema at start-up. Runs as part of `npm run build`.
import { readFileSync, mkdirSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const schemaPath = join(root, "schemas", "stack.schema.json");
const outDirs = [join(root, "src", "schema", "generated"), join(root, "dist", "schema", "generated")];

if (!existsSync(schemaPath)) {
  console.error("build-schema: schemas/stack.schema.json missing");
  process.exit(1);
}
const { default: Ajv } = await import("ajv");
const { default: standaloneCode } = await import("ajv/dist/standalone/index.js");
// Titles and descriptions serve editors; the validator and the key lookup do
// not need them, and leaving them out keeps the generated module small (it is
// parsed on every `stack` run that loads a stack file).
const schema = JSON.parse(readFileSync(schemaPath, "utf8"), (key, value) => {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const { description: _d, title: _t, ...rest } = value;
    return rest;
  }
  return value;
});
// The schema uses no minLength/maxLength: ajv would emit a CommonJS require of
// its ucs2length helper into the ESM module (checked below).
const ajv = new Ajv({ allErrors: true, strict: false, inlineRefs: false, code: { source: true, esm: true }, allowUnionTypes: true });
const validate = ajv.compile(schema);
const code = standaloneCode(ajv, validate);
if (/\brequire\(/.test(code)) {
  console.error("build-schema: the standalone validator needs an ajv runtime helper (require); adjust the schema or the ajv options");
  process.exit(1);
}
// The schema itself, as a module: validation messages look up the keys allowed
// at a path ("did you mean …") and only load it when a file has problems.
const schemaModule = `export default ${JSON.stringify(schema)};\n`;
for (const dir of outDirs) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "stack-schema.js"), schemaModule);
  writeFileSync(join(dir, "stack-schema.d.ts"), "declare const schema: Record<string, unknown>;\nexport default schema;\n");
  writeFileSync(join(dir, "validate-stack.js"), code);
  writeFileSync(
    join(dir, "validate-stack.d.ts"),
    "declare const validate: ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string; schemaPath: string; keyword: string; params: Record<string, unknown>; message?: string }> | null };\nexport default validate;\n",
  );
}
