// The registry client trusts the user's NODE_EXTRA_CA_CERTS file, whether it
// comes as bin/stack passes it on (STACK_EXTRA_CA_CERTS) or as Node got it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test, vi } from "vitest";
import { extraCaFile, tlsMaterialFor } from "../../../src/image/registry/tls-config.js";

afterEach(() => vi.unstubAllEnvs());

test("extraCaFile prefers the value bin/stack passed on", () => {
  expect(extraCaFile({ STACK_EXTRA_CA_CERTS: "/a.pem", NODE_EXTRA_CA_CERTS: "/b.pem" })).toBe("/a.pem");
  expect(extraCaFile({ STACK_EXTRA_CA_CERTS: "", NODE_EXTRA_CA_CERTS: "/b.pem" })).toBe("/b.pem");
  expect(extraCaFile({})).toBe("");
});

test("the extra CA file is among the CAs of every registry", () => {
  const dir = mkdtempSync(join(tmpdir(), "stack-extra-ca-"));
  try {
    writeFileSync(join(dir, "corp.pem"), "CORP CA PEM");
    vi.stubEnv("NODE_EXTRA_CA_CERTS", "");
    vi.stubEnv("STACK_EXTRA_CA_CERTS", "");
    expect(tlsMaterialFor("registry.example", join(dir, "certs.d")).ca).not.toContain("CORP CA PEM");
    vi.stubEnv("STACK_EXTRA_CA_CERTS", join(dir, "corp.pem"));
    expect(tlsMaterialFor("registry.example", join(dir, "certs.d")).ca).toContain("CORP CA PEM");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
