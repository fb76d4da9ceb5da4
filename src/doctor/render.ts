// The report's two forms: one line per check for people (✔ ok, ! warn,
// ✖ fail, with the fix under it), or a JSON array for tools.
import type { CheckResult } from "./facts.js";
import type { FixOutcome } from "./fix.js";

const MARK = { ok: "✔", warn: "!", fail: "✖" } as const;

export function renderText(results: CheckResult[], fixes?: FixOutcome): string {
  const lines: string[] = [];
  if (fixes) {
    for (const d of fixes.done) lines.push(`fixed: ${d}`);
    for (const f of fixes.failed) lines.push(`not fixed: ${f}`);
    if (fixes.done.length + fixes.failed.length === 0) lines.push("fixed: nothing to clean");
    lines.push("");
  }
  const width = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    lines.push(`${MARK[r.status]} ${r.name.padEnd(width)}  ${r.detail}`);
    if (r.status !== "ok" && r.fix) lines.push(`  ${" ".repeat(width)}  fix: ${r.fix}`);
  }
  const count = (s: CheckResult["status"]) => results.filter((r) => r.status === s).length;
  const [warn, fail] = [count("warn"), count("fail")];
  lines.push("", `${count("ok")} ok, ${warn} warning${warn === 1 ? "" : "s"}, ${fail} failed`);
  return lines.join("\n") + "\n";
}

/** The JSON form: an array of {name, status, detail, fix} in report order. */
export function renderJson(results: CheckResult[]): string {
  return JSON.stringify(results.map((r) => ({ name: r.name, status: r.status, detail: r.detail, fix: r.fix })), null, 2) + "\n";
}
