import { describe, expect, test } from "vitest";
import { renderJson, renderText } from "../../../src/doctor/render.js";
import type { CheckResult } from "../../../src/doctor/facts.js";

const results: CheckResult[] = [
  { name: "root", status: "ok", detail: "running as root", fix: "" },
  { name: "oci-runtime", status: "fail", detail: "neither runc nor crun is installed", fix: "apt-get install runc" },
  { name: "tini", status: "warn", detail: "tini-static is not installed", fix: "apt-get install tini" },
];

describe("renderText", () => {
  test("one line per check, the fix under each non-ok one, a summary", () => {
    expect(renderText(results)).toBe(
      [
        "✔ root         running as root",
        "✖ oci-runtime  neither runc nor crun is installed",
        "               fix: apt-get install runc",
        "! tini         tini-static is not installed",
        "               fix: apt-get install tini",
        "",
        "1 ok, 1 warning, 1 failed",
        "",
      ].join("\n"),
    );
  });

  test("with --fix: what was done and what was not come first", () => {
    const text = renderText(results.slice(0, 1), { done: ["project ghost: removed container c1"], failed: ["project busy: not cleaned: project \"busy\" is busy"] });
    expect(text.split("\n").slice(0, 3)).toEqual(["fixed: project ghost: removed container c1", 'not fixed: project busy: not cleaned: project "busy" is busy', ""]);
    expect(renderText([], { done: [], failed: [] }).startsWith("fixed: nothing to clean\n")).toBe(true);
  });
});

describe("renderJson", () => {
  test("an array of {name, status, detail, fix}", () => {
    expect(JSON.parse(renderJson(results))).toEqual(results);
  });
});
