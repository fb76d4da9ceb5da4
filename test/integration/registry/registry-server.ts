// Real registries for the tests, on 127.0.0.1 only: Debian's docker-registry
// (CNCF distribution 2.8) started with a generated config, a temporary
// storage folder and a free port; optionally TLS with a CA made here by
// openssl, htpasswd basic auth (bcrypt through perl's crypt(), which Debian's
// libxcrypt implements), or token auth against a token server of the test's.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { connect, createServer } from "node:net";
import { join } from "node:path";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestCa {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A CA, and a server certificate for 127.0.0.1 / localhost and a client certificate signed by it, in `dir`. */
export function makeTestCa(dir: string): TestCa {
  mkdirSync(dir, { recursive: true });
  const p = (n: string) => join(dir, n);
  const run = (args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=stack test CA", "-keyout", p("ca.key"), "-out", p("ca.crt")]);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", p("server.key"), "-out", p("server.csr")]);
  writeFileSync(p("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  run(["x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", p("ext.cnf"), "-out", p("server.crt")]);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=stack test client", "-keyout", p("client.key"), "-out", p("client.csr")]);
  writeFileSync(p("client-ext.cnf"), "extendedKeyUsage=clientAuth\n");
  run(["x509", "-req", "-in", p("client.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", p("client-ext.cnf"), "-out", p("client.cert")]);
  return { caCert: p("ca.crt"), serverCert: p("server.crt"), serverKey: p("server.key"), clientCert: p("client.cert"), clientKey: p("client.key") };
}

/** One htpasswd line with a bcrypt hash (docker-registry accepts only bcrypt). */
export function htpasswdLine(user: string, password: string): string {
  const salt = Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))).toString("base64").replace(/[+=]/g, ".").slice(0, 22);
  const hash = execFileSync("perl", ["-e", 'print crypt($ARGV[0], $ARGV[1])', password, `$2b$05$${salt}`], { encoding: "utf8" });
  if (!hash.startsWith("$2b$")) throw new Error(`perl crypt() did not make a bcrypt hash: ${hash}`);
  return `${user}:${hash}\n`;
}

export interface RegistryConfig {
  tls?: { cert: string; key: string; clientCas?: string[] };
  htpasswd?: string;
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

export interface RunningRegistry {
  /** "127.0.0.1:PORT" */
  host: string;
  storage: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startRegistry(dir: string, config: RegistryConfig = {}): Promise<RunningRegistry> {
  mkdirSync(dir, { recursive: true });
  const storage = join(dir, "storage");
  mkdirSync(storage, { recursive: true });
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const lines = [
      "version: 0.1",
      "log:",
      "  level: error",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${storage}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      ...(config.tls ? ["  tls:", `    certificate: ${config.tls.cert}`, `    key: ${config.tls.key}`] : []),
      ...(config.tls?.clientCas ? ["    clientcas:", ...config.tls.clientCas.map((c) => `      - ${c}`)] : []),
      ...(config.htpasswd ? ["auth:", "  htpasswd:", "    realm: stack-test", `    path: ${config.htpasswd}`] : []),
      ...(config.token
        ? ["auth:", "  token:", `    realm: ${config.token.realm}`, `    service: ${config.token.service}`, `    issuer: ${config.token.issuer}`, `    rootcertbundle: ${config.token.rootCertBundle}`]
        : []),
    ];
    const configPath = join(dir, "config.yml");
    writeFileSync(configPath, lines.join("\n") + "\n");
    const child = spawn("docker-registry", ["serve", configPath], { stdio: ["ignore", "ignore", "pipe"], env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    };
    const host = `127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    let up = false;
    while (Date.now() < deadline && child.exitCode === null) {
      up = await new Promise<boolean>((resolve) => {
        if (config.tls?.clientCas) {
          // It wants a client certificate before any HTTP: a listening port is enough.
          const socket = connect(port, "127.0.0.1", () => {
            socket.destroy();
            resolve(true);
          });
          socket.on("error", () => resolve(false));
          return;
        }
        const lib = config.tls ? https : http;
        const req = lib.get(`${config.tls ? "https" : "http"}://${host}/v2/`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(true);
        });
        req.on("error", () => resolve(false));
      });
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (up) return { host, storage, process: child, stop };
    await stop();
    lastError = new Error(`docker-registry did not start on ${host}: ${stderr.trim()}`);
  }
  throw lastError;
}
