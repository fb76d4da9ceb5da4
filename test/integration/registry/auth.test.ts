// Authentication against real registries on 127.0.0.1: docker-registry over
// TLS (a test CA in a certs.d folder) with htpasswd basic auth, and
// docker-registry in token mode with the test's token server.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullImage, pushImage, RegistryClient, storeCredentials } from "../../../src/image/registry/index.js";
import { ImageStore } from "../../../src/image/store/index.js";
import { importBusyboxImage } from "../../helpers/busybox-image.js";
import type { HostSnapshot } from "../../helpers/leaks.js";
import { assertNoOwnLeaks, snapshotOwn } from "./own-leaks.js";
import { skipUnlessRoot } from "../../helpers/root.js";
import { htpasswdLine, makeTestCa, startRegistry, type RunningRegistry } from "./registry-server.js";
import { startTokenServer, type TokenServer } from "./token-server.js";

let dir: string;
let before: HostSnapshot;

describe.skipIf(skipUnlessRoot("registry auth tests"))("registry authentication", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "stack-registry-auth-"));
    before = snapshotOwn(dir);
  });
  afterAll(() => {
    assertNoOwnLeaks(before, dir);
    rmSync(dir, { recursive: true, force: true });
  });

  describe("TLS with a test CA and htpasswd basic auth", () => {
    let registry: RunningRegistry;
    let certsDir: string;
    let ca: ReturnType<typeof makeTestCa>;
    beforeAll(async () => {
      ca = makeTestCa(join(dir, "ca"));
      writeFileSync(join(dir, "htpasswd"), htpasswdLine("alice", "s3cret pass"));
      registry = await startRegistry(join(dir, "tls-registry"), { tls: { cert: ca.serverCert, key: ca.serverKey }, htpasswd: join(dir, "htpasswd") });
      certsDir = join(dir, "certs.d");
      mkdirSync(join(certsDir, registry.host), { recursive: true });
      copyFileSync(ca.caCert, join(certsDir, registry.host, "ca.crt"));
    });
    afterAll(async () => registry?.stop());

    it("needs credentials, takes them from the auth file, and speaks TLS with the certs.d CA", async () => {
      const state = join(dir, "basic");
      await importBusyboxImage(state, "local/app:1");
      const target = `${registry.host}/team/app:1`;
      const authFile = join(dir, "docker", "config.json");
      await expect(pushImage({ stateDir: state, ref: "local/app:1", target, certsDir })).rejects.toThrow(/access to team\/app:pull,push on 127\.0\.0\.1:\d+ denied anonymously/);

      storeCredentials(authFile, registry.host, { username: "alice", password: "wrong" });
      await expect(pushImage({ stateDir: state, ref: "local/app:1", target, certsDir, authFile })).rejects.toThrow(/denied as alice/);

      storeCredentials(authFile, registry.host, { username: "alice", password: "s3cret pass" });
      const pushed = await pushImage({ stateDir: state, ref: "local/app:1", target, certsDir, authFile });
      const pulled = await pullImage({ stateDir: join(dir, "basic-pulled"), ref: target, certsDir, authFile });
      expect(pulled.id).toBe((await new ImageStore(state).get("local/app:1")).id);
      expect(pulled.digest).toBe(pushed.digest);

      // Another client accepts it over the same TLS and credentials.
      const skopeoCerts = join(dir, "skopeo-certs");
      mkdirSync(skopeoCerts, { recursive: true });
      copyFileSync(ca.caCert, join(skopeoCerts, "ca.crt"));
      const inspected = JSON.parse(execFileSync("skopeo", ["inspect", "--cert-dir", skopeoCerts, "--creds", "alice:s3cret pass", `docker://${target}`], { encoding: "utf8" })) as { Digest: string };
      expect(inspected.Digest).toBe(pushed.digest);

      await new RegistryClient(registry.host, { certsDir, credentials: { username: "alice", password: "s3cret pass" } }).checkLogin();
      await expect(new RegistryClient(registry.host, { certsDir, credentials: { username: "alice", password: "nope" } }).checkLogin()).rejects.toThrow(/login to 127\.0\.0\.1:\d+ failed: the registry answered 401/);
    });

    it("refuses a registry whose certificate it cannot verify, naming the certs.d folder", async () => {
      const state = join(dir, "untrusted");
      await expect(pullImage({ stateDir: state, ref: `${registry.host}/team/app:1`, certsDir: join(dir, "empty-certs") })).rejects.toMatchObject({
        message: expect.stringMatching(/cannot reach registry 127\.0\.0\.1:\d+ at (http:\/\/127\.0\.0\.1:\d+ or )?https:\/\/127\.0\.0\.1:\d+( or http:\/\/127\.0\.0\.1:\d+)?: .*certificate/),
        hint: expect.stringContaining(`${join(dir, "empty-certs")}/127.0.0.1:`),
      });
    });
  });

  describe("TLS with client certificates", () => {
    let registry: RunningRegistry;
    let ca: ReturnType<typeof makeTestCa>;
    beforeAll(async () => {
      ca = makeTestCa(join(dir, "mtls-ca"));
      registry = await startRegistry(join(dir, "mtls-registry"), { tls: { cert: ca.serverCert, key: ca.serverKey, clientCas: [ca.caCert] } });
    });
    afterAll(async () => registry?.stop());

    it("presents the certs.d client certificate, and is refused without it", async () => {
      const state = join(dir, "mtls");
      await importBusyboxImage(state, "local/app:1");
      const withClient = join(dir, "mtls-certs");
      mkdirSync(join(withClient, registry.host), { recursive: true });
      copyFileSync(ca.caCert, join(withClient, registry.host, "ca.crt"));
      const caOnly = join(dir, "mtls-ca-only");
      mkdirSync(join(caOnly, registry.host), { recursive: true });
      copyFileSync(ca.caCert, join(caOnly, registry.host, "ca.crt"));
      copyFileSync(ca.clientCert, join(withClient, registry.host, "client.cert"));
      copyFileSync(ca.clientKey, join(withClient, registry.host, "client.key"));
      const target = `${registry.host}/team/mtls:1`;
      await expect(pushImage({ stateDir: state, ref: "local/app:1", target, certsDir: caOnly })).rejects.toThrow(/cannot reach registry 127\.0\.0\.1:\d+/);
      await pushImage({ stateDir: state, ref: "local/app:1", target, certsDir: withClient });
      const pulled = await pullImage({ stateDir: join(dir, "mtls-pulled"), ref: target, certsDir: withClient });
      expect(pulled.id).toBe((await new ImageStore(state).get("local/app:1")).id);
    });
  });

  describe("token auth (docker-registry with a test token server)", () => {
    let registry: RunningRegistry;
    let tokens: TokenServer;
    beforeAll(async () => {
      mkdirSync(join(dir, "tokens"), { recursive: true });
      tokens = await startTokenServer(join(dir, "tokens"), { bob: "hunter2" }, (user, repo, actions) => {
        if (user === "bob" && repo.startsWith("team/")) return actions;
        if (repo.startsWith("public/")) return actions.filter((a) => a === "pull");
        return [];
      });
      registry = await startRegistry(join(dir, "token-registry"), { token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.certPath } });
    });
    afterAll(async () => {
      await registry?.stop();
      await tokens?.close();
    });

    it("fetches scoped Bearer tokens with the stored credentials, mounts across repositories, and is refused without them", async () => {
      const state = join(dir, "token");
      await importBusyboxImage(state, `${registry.host}/team/app:1`);
      const authFile = join(dir, "token-docker", "config.json");
      await expect(pushImage({ stateDir: state, ref: `${registry.host}/team/app:1` })).rejects.toThrow(/denied anonymously/);
      storeCredentials(authFile, registry.host, { username: "bob", password: "hunter2" });
      tokens.requests.length = 0;
      await pushImage({ stateDir: state, ref: `${registry.host}/team/app:1`, authFile });
      expect(tokens.requests).toContainEqual({ scopes: ["repository:team/app:pull,push"], user: "bob" });

      await new ImageStore(state).tag(`${registry.host}/team/app:1`, `${registry.host}/team/other:1`);
      tokens.requests.length = 0;
      const mounted = await pushImage({ stateDir: state, ref: `${registry.host}/team/other:1`, authFile });
      expect(mounted).toMatchObject({ mounted: 2, uploaded: 0 });
      expect(tokens.requests).toContainEqual({ scopes: ["repository:team/app:pull", "repository:team/other:pull,push"], user: "bob" });

      await expect(pullImage({ stateDir: join(dir, "token-anon"), ref: `${registry.host}/team/app:1` })).rejects.toThrow(/access to team\/app:pull on 127\.0\.0\.1:\d+ denied anonymously/);
      const pulled = await pullImage({ stateDir: join(dir, "token-pulled"), ref: `${registry.host}/team/app:1`, authFile });
      expect(pulled.id).toBe((await new ImageStore(state).get(`${registry.host}/team/app:1`)).id);

      await new RegistryClient(registry.host, { credentials: { username: "bob", password: "hunter2" } }).checkLogin();
      await expect(new RegistryClient(registry.host, { credentials: { username: "bob", password: "bad" } }).checkLogin()).rejects.toThrow(/denied as bob/);
    });
  });
});
