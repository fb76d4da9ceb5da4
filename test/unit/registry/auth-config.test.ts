// Docker's config.json credentials and the certs.d layout, in temp folders.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chmodSync } from "node:fs";
import { authKeyHost, loadCredentials, removeCredentials, runCredentialHelper, storeCredentials } from "../../../src/image/registry/auth-config.js";
import { tlsMaterialFor } from "../../../src/image/registry/tls-config.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "stack-auth-config-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("auth config", () => {
  it("finds credentials under any spelling of the registry", () => {
    const file = join(dir, "config.json");
    writeFileSync(
      file,
      JSON.stringify({
        auths: {
          "https://index.docker.io/v1/": { auth: b64("hubuser:hubpass") },
          "https://registry.example:5000/v2/": { auth: b64("me:p:with:colons") },
          "token.example": { identitytoken: "refresh-me", auth: "" },
        },
        psFormat: "table",
      }),
    );
    expect(loadCredentials(file, "docker.io")).toEqual({ username: "hubuser", password: "hubpass" });
    expect(loadCredentials(file, "registry.example:5000")).toEqual({ username: "me", password: "p:with:colons" });
    expect(loadCredentials(file, "token.example")).toEqual({ username: "", password: "", identityToken: "refresh-me" });
    expect(loadCredentials(file, "other.example")).toBeUndefined();
    expect(loadCredentials(join(dir, "absent.json"), "docker.io")).toBeUndefined();
    expect(loadCredentials(undefined, "docker.io")).toBeUndefined();
  });

  it("maps auths keys to hosts", () => {
    expect(["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io", "http://Localhost:5000", "host:1/x"].map(authKeyHost)).toEqual(["docker.io", "docker.io", "docker.io", "localhost:5000", "host:1"]);
  });

  it("stores with mode 0600, replaces other spellings, keeps other keys, and removes", () => {
    const file = join(dir, "nested", "config.json");
    mkdirSync(join(dir, "nested"));
    writeFileSync(file, JSON.stringify({ auths: { "http://localhost:5000/": { auth: b64("old:old") }, "keep.example": { auth: b64("k:k") } }, psFormat: "x" }));
    storeCredentials(file, "localhost:5000", { username: "new", password: "secret" });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ auths: { "keep.example": { auth: b64("k:k") }, "localhost:5000": { auth: b64("new:secret") } }, psFormat: "x" });
    storeCredentials(file, "docker.io", { username: "h", password: "p" });
    expect(Object.keys(JSON.parse(readFileSync(file, "utf8")).auths)).toContain("https://index.docker.io/v1/");
    expect(removeCredentials(file, "localhost:5000")).toBe(true);
    expect(removeCredentials(file, "localhost:5000")).toBe(false);
    expect(loadCredentials(file, "localhost:5000")).toBeUndefined();
    expect(loadCredentials(file, "keep.example")).toEqual({ username: "k", password: "k" });
  });

  it("names the file and the key when the config is broken", () => {
    const file = join(dir, "config.json");
    writeFileSync(file, "{ not json");
    expect(() => loadCredentials(file, "docker.io")).toThrow(new RegExp(`${file}: not valid JSON`));
    writeFileSync(file, "[]");
    expect(() => loadCredentials(file, "docker.io")).toThrow(/expected a JSON object/);
    writeFileSync(file, JSON.stringify({ auths: [] }));
    expect(() => loadCredentials(file, "docker.io")).toThrow(/"auths" must be an object/);
    writeFileSync(file, JSON.stringify({ auths: { "r.example": { auth: b64("nocolon") } } }));
    expect(() => loadCredentials(file, "r.example")).toThrow(/auths\."r\.example"\.auth is not base64 of "user:password"/);
  });
});

describe("credential helpers", () => {
  it("asks credHelpers first, then credsStore, with Docker's server URL", () => {
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify({ auths: { "r.example": { auth: b64("file:file") } }, credsStore: "store", credHelpers: { "special.example:5000": "special" } }));
    const asked: string[] = [];
    const helper = (name: string, url: string) => {
      asked.push(`${name} ${url}`);
      return name === "special" ? { username: "s", password: "p" } : undefined;
    };
    expect(loadCredentials(file, "special.example:5000", helper)).toEqual({ username: "s", password: "p" });
    expect(loadCredentials(file, "r.example", helper)).toBeUndefined();
    expect(loadCredentials(file, "docker.io", helper)).toBeUndefined();
    expect(asked).toEqual(["special special.example:5000", "store r.example", "store https://index.docker.io/v1/"]);
  });

  it("runs docker-credential-<name> get, reads identity tokens, and explains failures", () => {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const script = (name: string, body: string) => {
      writeFileSync(join(bin, `docker-credential-${name}`), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin, `docker-credential-${name}`), 0o755);
    };
    script("ok", 'read server; [ "$1" = get ] && echo "{\\"ServerURL\\":\\"$server\\",\\"Username\\":\\"u-$server\\",\\"Secret\\":\\"pw\\"}"');
    script("token", 'echo \'{"Username":"<token>","Secret":"refresh"}\'');
    script("none", "echo 'credentials not found in native keychain'; exit 1");
    script("broken", "echo 'keychain locked' >&2; exit 3");
    script("garbage", "echo 'not json'");
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      expect(runCredentialHelper("ok", "r.example")).toEqual({ username: "u-r.example", password: "pw" });
      expect(runCredentialHelper("token", "r.example")).toEqual({ username: "", password: "", identityToken: "refresh" });
      expect(runCredentialHelper("none", "r.example")).toBeUndefined();
      expect(() => runCredentialHelper("broken", "r.example")).toThrow(/credential helper docker-credential-broken failed for r\.example: keychain locked/);
      expect(() => runCredentialHelper("garbage", "r.example")).toThrow(/docker-credential-garbage printed something that is not JSON/);
      expect(() => runCredentialHelper("absent", "r.example")).toThrow(/cannot run the credential helper docker-credential-absent/);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe("certs.d", () => {
  it("adds the host's CAs and client certificate to the system roots", () => {
    const host = join(dir, "registry.example:5000");
    mkdirSync(host);
    writeFileSync(join(host, "ca.crt"), "CA PEM");
    writeFileSync(join(host, "client.cert"), "CERT PEM");
    writeFileSync(join(host, "client.key"), "KEY PEM");
    const m = tlsMaterialFor("registry.example:5000", dir);
    expect(m.ca.at(-1)).toBe("CA PEM");
    expect(m.ca.length).toBeGreaterThan(100);
    expect(m).toMatchObject({ cert: "CERT PEM", key: "KEY PEM" });
    expect(tlsMaterialFor("other.example", dir).cert).toBeUndefined();
  });
  it("refuses a client certificate without its key", () => {
    const host = join(dir, "r.example");
    mkdirSync(host);
    writeFileSync(join(host, "me.cert"), "CERT");
    expect(() => tlsMaterialFor("r.example", dir)).toThrow(/me\.cert has no matching key me\.key/);
  });
});
