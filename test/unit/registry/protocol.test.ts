// The distribution protocol details against a fake registry on 127.0.0.1
// (node:http): the Bearer dance, token reuse and scope upgrade, redirects,
// digest checks, and the errors for servers that are not registries.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RegistryClient } from "../../../src/image/registry/client.js";
import { pullImage, pushImage } from "../../../src/image/registry/index.js";
import { ImageStore } from "../../../src/image/store/index.js";
import { fetchManifest } from "../../../src/image/registry/manifest.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  return `127.0.0.1:${(s.address() as { port: number }).port}`;
}

const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: "sha256:" + "1".repeat(64), size: 2 }, layers: [] }));
const digestOf = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

describe("registry protocol", () => {
  it("does the Bearer dance with Basic credentials, reuses the token, and widens the scope once when asked", async () => {
    const tokenRequests: Array<{ scopes: string[]; auth?: string }> = [];
    const auth = await serve((req, res) => {
      const url = new URL(req.url!, "http://x");
      const scopes = url.searchParams.getAll("scope");
      tokenRequests.push({ scopes, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
      res.end(JSON.stringify({ access_token: `tok-${scopes.join("+")}`, expires_in: 300 }));
    });
    const seen: string[] = [];
    const host = await serve((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? "-"}`);
      const challenge = `Bearer realm="http://${auth}/token",service="fake"`;
      if (req.url === "/v2/") return void res.writeHead(401, { "www-authenticate": challenge }).end();
      if (req.url?.startsWith("/v2/team/app/manifests/") && req.headers.authorization?.startsWith("Bearer tok-repository:team/app:pull")) {
        if (req.url.endsWith("/wide") && !req.headers.authorization.includes("repository:team/other:pull")) {
          return void res.writeHead(401, { "www-authenticate": `${challenge},scope="repository:team/other:pull",error="insufficient_scope"` }).end();
        }
        return void res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "docker-content-digest": digestOf(manifest) }).end(manifest);
      }
      res.writeHead(401, { "www-authenticate": challenge }).end();
    });
    const client = new RegistryClient(host, { credentials: { username: "u", password: "p" } });
    try {
      const scopes = ["repository:team/app:pull"];
      expect((await fetchManifest(client, "team/app", "1", scopes)).digest).toBe(digestOf(manifest));
      expect((await fetchManifest(client, "team/app", "2", scopes)).digest).toBe(digestOf(manifest));
      expect(tokenRequests).toEqual([{ scopes, auth: `Basic ${Buffer.from("u:p").toString("base64")}` }]);
      await fetchManifest(client, "team/app", "wide", scopes);
      expect(tokenRequests.at(-1)!.scopes).toEqual(["repository:team/app:pull", "repository:team/other:pull"]);
      expect(seen.filter((s) => s.includes("/wide"))).toHaveLength(2);
    } finally {
      client.close();
    }
  });

  it("follows a blob redirect to another host without the registry's credentials", async () => {
    let storageAuth: string | undefined = "unset";
    const storage = await serve((req, res) => {
      storageAuth = req.headers.authorization;
      res.end("blob bytes");
    });
    const host = await serve((req, res) => {
      if (req.url === "/v2/") return void res.writeHead(401, { "www-authenticate": 'Basic realm="r"' }).end();
      if (!req.headers.authorization) return void res.writeHead(401).end();
      res.writeHead(307, { location: `http://${storage}/bucket/blob?sig=1` }).end();
    });
    const client = new RegistryClient(host, { credentials: { username: "u", password: "p" } });
    try {
      const res = await client.request("GET", "/v2/team/app/blobs/sha256:" + "2".repeat(64), { scopes: [] });
      let body = "";
      for await (const c of res.body) body += c;
      expect(res.status).toBe(200);
      expect(body).toBe("blob bytes");
      expect(storageAuth).toBeUndefined();
    } finally {
      client.close();
    }
  });

  it("refuses a manifest whose bytes do not match the digest asked for or announced", async () => {
    const host = await serve((req, res) => {
      if (req.url === "/v2/") return void res.end("{}");
      res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "docker-content-digest": "sha256:" + "9".repeat(64) }).end(manifest);
    });
    const client = new RegistryClient(host);
    try {
      await expect(fetchManifest(client, "team/app", "1", [])).rejects.toThrow(/the registry announced digest sha256:9{64} but sent content with digest sha256:[0-9a-f]{64}/);
      await expect(fetchManifest(client, "team/app", "sha256:" + "8".repeat(64), [])).rejects.toThrow(/manifest 127\.0\.0\.1:\d+\/team\/app@sha256:8{64} does not match its digest/);
    } finally {
      client.close();
    }
  });

  it("asks a plain-HTTP loopback registry over HTTP first, so no TLS handshake reaches it", async () => {
    const seen: string[] = [];
    const host = await serve((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(200).end("{}");
    });
    let garbled = 0;
    servers.at(-1)!.on("clientError", (_e, socket) => {
      garbled++;
      socket.destroy();
    });
    const client = new RegistryClient(host);
    try {
      expect((await client.baseUrl()).protocol).toBe("http:");
    } finally {
      client.close();
    }
    expect(seen).toEqual(["GET /v2/"]);
    expect(garbled).toBe(0);
  });

  it("explains servers that are not registries, unknown auth schemes, failing token servers and closed ports", async () => {
    const notRegistry = await serve((_req, res) => res.writeHead(404).end("nope"));
    const negotiate = await serve((_req, res) => res.writeHead(401, { "www-authenticate": "Negotiate" }).end());
    const badTokens = await serve((_req, res) => res.end("<html>"));
    const bearer = await serve((_req, res) => res.writeHead(401, { "www-authenticate": `Bearer realm="http://${badTokens}/t"` }).end());
    const closed = await serve(() => undefined);
    const s = servers.pop()!;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
    const attempt = async (host: string) => {
      const client = new RegistryClient(host);
      try {
        await client.request("GET", "/v2/x/manifests/1", { scopes: ["repository:x:pull"] });
      } finally {
        client.close();
      }
    };
    await expect(attempt(notRegistry)).rejects.toThrow(/http:\/\/127\.0\.0\.1:\d+ does not speak the registry API v2 \(GET \/v2\/ answered 404\)/);
    await expect(attempt(negotiate)).rejects.toThrow(/asks for an authentication scheme stack does not speak \(Negotiate\)/);
    await expect(attempt(bearer)).rejects.toThrow(/token server http:\/\/127\.0\.0\.1:\d+ sent a reply that is not JSON/);
    await expect(attempt(closed)).rejects.toThrow(/cannot reach registry 127\.0\.0\.1:\d+ at http:\/\/127\.0\.0\.1:\d+ or https:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it("explains a token server without a token, a nested index, a missing upload location and a rewritten manifest", async () => {
    const state = mkdtempSync(join(tmpdir(), "stack-protocol-"));
    try {
      const noToken = await serve((_req, res) => res.end("{}"));
      const bearer = await serve((_req, res) => res.writeHead(401, { "www-authenticate": `Bearer realm="http://${noToken}/t"` }).end());
      await expect(pullImage({ stateDir: state, ref: `${bearer}/x:1` })).rejects.toThrow(/token server http:\/\/127\.0\.0\.1:\d+ sent no token/);

      const inner = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] }));
      const outer = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [{ mediaType: "application/vnd.oci.image.index.v1+json", digest: digestOf(inner), size: inner.length, platform: { os: "linux", architecture: "amd64" } }] }));
      const nested = await serve((req, res) => {
        if (req.url === "/v2/") return void res.end("{}");
        res.writeHead(200, { "content-type": "application/vnd.oci.image.index.v1+json" }).end(req.url!.includes("sha256:") ? inner : outer);
      });
      await expect(pullImage({ stateDir: state, ref: `${nested}/x:1` })).rejects.toThrow(/the index entry for linux\/amd64 is itself an index/);

      const store = new ImageStore(state);
      const config = await store.writeBlob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } })));
      await store.addImage({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size }, layers: [] }, ["local/empty:1"]);
      let giveLocation = false;
      const registry = await serve((req, res) => {
        if (req.url === "/v2/") return void res.end("{}");
        if (req.method === "HEAD") return void res.writeHead(404).end();
        if (req.method === "POST") return void res.writeHead(202, giveLocation ? { location: "/v2/x/blobs/uploads/abc" } : {}).end();
        if (req.method === "PUT" && req.url!.includes("/blobs/")) return void res.writeHead(201).end();
        if (req.method === "PUT") return void res.writeHead(201, { "docker-content-digest": "sha256:" + "7".repeat(64) }).end();
        res.writeHead(500).end();
      });
      await expect(pushImage({ stateDir: state, ref: "local/empty:1", target: `${registry}/x:1` })).rejects.toThrow(/starting the upload of blob sha256:[0-9a-f]{64}: the registry gave no upload location/);
      giveLocation = true;
      await expect(pushImage({ stateDir: state, ref: "local/empty:1", target: `${registry}/x:1` })).rejects.toThrow(/the registry stored the manifest of 127\.0\.0\.1:\d+\/x:1 as sha256:7{64}, expected sha256:/);
      await expect(pushImage({ stateDir: state, ref: "local/empty:1", target: "Not A Name" })).rejects.toThrow(/cannot push "Not A Name": it is not an image name/);
      await expect(pushImage({ stateDir: state, ref: "local/empty:1", target: `${registry}/x@sha256:${"6".repeat(64)}` })).rejects.toThrow(/the local image has digest sha256:/);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("exchanges an identity token for an access token with a POST", async () => {
    const forms: Array<Record<string, string>> = [];
    const auth = await serve((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        forms.push({ method: req.method!, ...Object.fromEntries(new URLSearchParams(body)) });
        res.end(JSON.stringify({ access_token: "granted" }));
      });
    });
    const host = await serve((req, res) => {
      if (req.headers.authorization === "Bearer granted") return void res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" }).end(manifest);
      res.writeHead(401, { "www-authenticate": `Bearer realm="http://${auth}/token",service="svc"` }).end();
    });
    const client = new RegistryClient(host, { credentials: { username: "", password: "", identityToken: "refresh-me" } });
    try {
      await fetchManifest(client, "team/app", "1", ["repository:team/app:pull"]);
      expect(forms).toEqual([{ method: "POST", grant_type: "refresh_token", refresh_token: "refresh-me", client_id: "stack", service: "svc", scope: "repository:team/app:pull" }]);
    } finally {
      client.close();
    }
  });
});
