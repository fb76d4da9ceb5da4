// A small token server for docker-registry's `auth: token` mode, on
// 127.0.0.1: it checks Basic credentials, grants the actions its policy
// allows, and signs an RS256 JWT whose x5c header carries a self-signed
// certificate that the registry trusts (its rootcertbundle).
import { execFileSync } from "node:child_process";
import { createPrivateKey, randomBytes, sign, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";

export interface TokenRequest {
  scopes: string[];
  user?: string;
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  requests: TokenRequest[];
  close(): Promise<void>;
}

/** `policy(user, repository, wantedActions)` returns the granted actions; user is undefined for anonymous requests. */
export async function startTokenServer(dir: string, users: Record<string, string>, policy: (user: string | undefined, repo: string, actions: string[]) => string[]): Promise<TokenServer> {
  const keyPath = join(dir, "token.key");
  const certPath = join(dir, "token.crt");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=stack test token issuer", "-keyout", keyPath, "-out", certPath], { stdio: "pipe" });
  const key = createPrivateKey(readFileSync(keyPath));
  const der = new X509Certificate(readFileSync(certPath)).raw.toString("base64");
  const service = "stack-test-registry";
  const issuer = "stack-test-issuer";
  const requests: TokenRequest[] = [];
  const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith("Basic ")) {
      const [u, ...rest] = Buffer.from(auth.slice(6), "base64").toString().split(":");
      if (users[u!] === undefined || users[u!] !== rest.join(":")) {
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ details: "incorrect username or password" }));
        return;
      }
      user = u;
    }
    const scopes = url.searchParams.getAll("scope");
    requests.push({ scopes, ...(user ? { user } : {}) });
    const access = scopes.flatMap((s) => {
      const [type, ...middle] = s.split(":");
      const actions = middle.pop()!.split(",");
      const name = middle.join(":");
      if (type !== "repository") return [];
      const granted = policy(user, name, actions);
      return granted.length > 0 ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "RS256", typ: "JWT", x5c: [der] };
    const claims = { iss: issuer, sub: user ?? "", aud: url.searchParams.get("service") ?? service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString("hex"), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const token = `${signingInput}.${b64url(sign("sha256", Buffer.from(signingInput), key))}`;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
