// The optimizing-compiler switch: its state follows what was asked, and V8
// really takes the flag (a function called in a loop is optimized only
// while the compiler is on; compiled on the main thread, so the answer does
// not wait on a busy second core). Each case runs in a fresh node: flags are
// process-wide.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const tuning = fileURLToPath(new URL("../../../dist/fs/v8-tuning.js", import.meta.url));

function runScript(body: string): string {
  const script = `import { keepYoungGenerationSmall, turnOptimizerOff, turnOptimizerOn, isOptimizerOff } from ${JSON.stringify(tuning)};
import { getHeapSpaceStatistics } from "node:v8";
// The young generation's size (MB) after making ~15 MB of objects that stay alive.
const youngAfterKeeping = () => { const keep = []; for (let i = 0; i < 300000; i++) keep.push({ i, list: [i] }); return getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 2 ** 20; };
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
    // V8 doubles the young generation (up to 16 MB semi-spaces) while much survives; kept small, it stays at its first size.
    { name: "V8's defaults: the young generation grows", body: "console.log(youngAfterKeeping() >= 8);", expected: "true" },
    { name: "the young generation kept small", body: "keepYoungGenerationSmall(); keepYoungGenerationSmall(); console.log(youngAfterKeeping() <= 2);", expected: "true" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(runScript(c.body)).toBe(c.expected);
    });
  }
});
