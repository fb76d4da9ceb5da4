// bin/stack hands NODE_EXTRA_CA_CERTS to Node empty (Node would parse the file
// at every start) and passes the value on as STACK_EXTRA_CA_CERTS, which the
// registry client's TLS set-up reads (test/unit/registry/extra-ca.test.ts).
import { execFileSync, spawnSync } from "node:child_process";
import { expect, test } from "vitest";
import { stackBin } from "../../helpers/cli.js";

const missing = "/nonexistent/stack-test-extra-ca.pem";

test("run as a program, bin/stack keeps Node from loading NODE_EXTRA_CA_CERTS at start-up", () => {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", NODE_EXTRA_CA_CERTS: missing };
  // Node warns at start-up when the file cannot be read: the peer shows the warning exists.
  const direct = spawnSync(process.execPath, [stackBin, "--version"], { env, encoding: "utf8" });
  expect(direct.stderr).toContain("Ignoring extra certs");
  const viaShebang = spawnSync(stackBin, ["--version"], { env, encoding: "utf8" });
  expect(viaShebang.status).toBe(0);
  expect(viaShebang.stderr).toBe("");
  expect(viaShebang.stdout).toMatch(/^stack version /);
});

test("the user's value goes on as STACK_EXTRA_CA_CERTS, and an unset one stays unset for Node", () => {
  const shebang = execFileSync("head", ["-1", stackBin], { encoding: "utf8" }).trim();
  expect(shebang.startsWith("#!/usr/bin/env -S ")).toBe(true);
  // The same line, run by env with a probe instead of the CLI.
  const args = shebang.slice("#!/usr/bin/env -S ".length).replace(/ node$/, "");
  const probe = (value: string | undefined) =>
    execFileSync("/usr/bin/env", ["-S", `${args} node -e "process.stdout.write(JSON.stringify([process.env.STACK_EXTRA_CA_CERTS, process.env.NODE_EXTRA_CA_CERTS]))"`], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...(value !== undefined ? { NODE_EXTRA_CA_CERTS: value } : {}) },
      encoding: "utf8",
    });
  expect(JSON.parse(probe("/etc/corp ca/roots.pem"))).toEqual(["/etc/corp ca/roots.pem", ""]);
  expect(JSON.parse(probe(undefined))).toEqual(["", ""]);
});
