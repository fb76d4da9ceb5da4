// TLS material for one registry, Docker's certs.d layout:
// `<certsDir>/<host[:port]>/*.crt` are extra CAs, `*.cert` + `*.key` pairs are
// client certificates. Trusted besides them: Node's bundled roots, the
// system bundle (/etc/ssl/certs/ca-certificates.crt on Debian) and the file
// named by NODE_EXTRA_CA_CERTS. bin/stack hands that variable to Node empty
// (Node would parse the file at every start, ~25–100 ms here, for the few
// commands that talk TLS) and passes its value on as STACK_EXTRA_CA_CERTS.
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { InvalidInputError } from "../../errors.js";

export const DEFAULT_CERTS_DIR = "/etc/stack/certs.d";
const SYSTEM_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

export interface TlsMaterial {
  ca: string[];
  cert?: string;
  key?: string;
}

function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

let systemCas: { extra: string; ca: string[] } | undefined;

/** The user's NODE_EXTRA_CA_CERTS file, as bin/stack passed it on or as Node got it. */
export function extraCaFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.STACK_EXTRA_CA_CERTS || env.NODE_EXTRA_CA_CERTS || "";
}

function systemRoots(): string[] {
  const extra = extraCaFile();
  if (systemCas?.extra !== extra) {
    // node:tls is loaded here, on first use: a pull from a plain loopback registry never loads it.
    const { rootCertificates } = createRequire(import.meta.url)("node:tls") as typeof import("node:tls");
    const ca = [...rootCertificates];
    for (const b of SYSTEM_BUNDLES) {
      const text = readIfThere(b);
      if (text) {
        ca.push(text);
        break;
      }
    }
    const text = extra ? readIfThere(extra) : undefined;
    if (text) ca.push(text);
    systemCas = { extra, ca };
  }
  return systemCas.ca;
}

/** The CAs and client certificate to use for `host` ("registry.example:5000"). */
export function tlsMaterialFor(host: string, certsDir: string = DEFAULT_CERTS_DIR): TlsMaterial {
  const dir = join(certsDir, host.replace(/^\[|\]$/g, ""));
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return { ca: systemRoots() };
  }
  const ca = [...systemRoots()];
  for (const n of names) if (n.endsWith(".crt")) ca.push(readFileSync(join(dir, n), "utf8"));
  const certs = names.filter((n) => n.endsWith(".cert"));
  if (certs.length === 0) return { ca };
  const certName = certs[0]!;
  const keyName = certName.replace(/\.cert$/, ".key");
  const key = readIfThere(join(dir, keyName));
  if (key === undefined) {
    throw new InvalidInputError(`${join(dir, certName)} has no matching key ${keyName}`, { hint: "a client certificate NAME.cert needs its private key NAME.key beside it" });
  }
  return { ca, cert: readFileSync(join(dir, certName), "utf8"), key };
}
