// `stack -v/--version` (Compose's global flag) and `stack version`, through the built CLI.
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { runStack } from "../../helpers/cli.js";

const { version } = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };

test.each([["--version"], ["-v"]])("stack %s prints the version and exits 0", async (flag) => {
  const r = await runStack([flag]);
  expect(r).toEqual({ exitCode: 0, stdout: `stack version ${version}\n`, stderr: "" });
});

test("stack version --short and --format json", async () => {
  expect((await runStack(["version", "--short"])).stdout).toBe(`${version}\n`);
  expect(JSON.parse((await runStack(["version", "--format", "json"])).stdout)).toEqual({ version, node: process.version });
});
