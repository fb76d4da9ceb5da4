// The optimizing-compiler switch: its state follows what was asked, and V8
// really takes the flag (a function called in a loop is optimized only
// while the compiler is on; compiled on the main thread, so the answer does
// not wait on a busy second core). Each case runs in a fresh node: flags are
// process-wide.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const tuning = fileURLToPath(new URL("../../../dist/schema/v8-tuning.js", import.meta.url));

function runScript(body: string): string {
  const script = `import { turnOptimizerOff, turnOptimizerOn, isOptimizerOff } from ${JSON.stringify(tuning)};
const hot = () => { let x = 0; for (let i = 0; i < 1000; i++) x += i; return x; };
const optimized = () => { for (let i = 0; i < 20000; i++) hot(); return (%GetOptimizationStatus(hot) & 16) !== 0; };
${body}`;
  const r = spawnSync(process.execPath, ["--allow-natives-syntax", "--no-concurrent-recompilation", "--input-type=module", "-e", script], { encoding: "utf8" });
  expect(r.stderr).toBe("");
  return r.stdout.trim();
}

describe("v8-tuning", () => {
  const cases = [
    { name: "V8's defaults: on, and a hot function is optimized", body: "console.log(isOptimizerOff(), optimized());", expected: "false true" },
    { name: "off: a hot function stays unoptimized", body: "turnOptimizerOff(); turnOptimizerOff(); console.log(isOptimizerOff(), optimized());", expected: "true false" },
    { name: "off, then on again", body: "turnOptimizerOff(); turnOptimizerOn(); console.log(isOptimizerOff(), optimized());", expected: "false true" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(runScript(c.body)).toBe(c.expected);
    });
  }
});
