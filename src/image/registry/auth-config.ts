// Registry credentials in Docker's client config (`~/.docker/config.json`,
// or `$DOCKER_CONFIG/config.json` — the CLI decides the path and passes it
// in): `auths` maps a registry to `{auth: base64("user:password")}` or an
// `identitytoken`. stack reads the same file and `stack login`/`logout`
// write it the same way (mode 0600), keeping every other key as it was.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { InvalidInputError, SystemError } from "../../errors.js";
import { writeFileAtomic } from "../../fs/atomic-write.js";
import { DEFAULT_DOMAIN } from "../reference.js";

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth2 refresh token (Docker Hub's `identitytoken`); used instead of the password with token auth. */
  identityToken?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  [key: string]: unknown;
}

interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  /** A credential helper for every registry: `docker-credential-<credsStore>`. */
  credsStore?: string;
  /** Per-registry helpers, keyed like `auths`; they win over credsStore. */
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/** Asks helper `docker-credential-<name>` for a server's credentials; undefined when it has none. */
export type CredentialHelper = (name: string, serverUrl: string) => Credentials | undefined;

/** Runs the helper binary as Docker does: `get` with the server URL on stdin, `{Username, Secret}` on stdout. */
export const runCredentialHelper: CredentialHelper = (name, serverUrl) => {
  const program = `docker-credential-${name}`;
  const r = spawnSync(program, ["get"], { input: serverUrl, encoding: "utf8", timeout: 30_000 });
  // EPIPE: the helper exited without reading the server URL; its answer still counts.
  if (r.error && (r.error as NodeJS.ErrnoException).code !== "EPIPE") {
    throw new SystemError(`cannot run the credential helper ${program}: ${r.error.message}`, { hint: `install ${program}, or remove "credsStore"/"credHelpers" from Docker's config.json`, cause: r.error });
  }
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  if (r.status !== 0) {
    if (/credentials not found/i.test(out)) return undefined;
    throw new SystemError(`credential helper ${program} failed for ${serverUrl}: ${out.trim() || `exit code ${r.status}`}`, { hint: `run \`echo ${serverUrl} | ${program} get\` to see why` });
  }
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(r.stdout);
  } catch (e) {
    throw new SystemError(`credential helper ${program} printed something that is not JSON`, { cause: e });
  }
  if (!parsed.Secret) return undefined;
  // Docker's convention: the user name "<token>" marks an identity (refresh) token.
  if (parsed.Username === "<token>") return { username: "", password: "", identityToken: parsed.Secret };
  return { username: parsed.Username ?? "", password: parsed.Secret };
};

/** The key Docker uses for Docker Hub in `auths`. */
export const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";
const HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

/** The registry host an `auths` key names: "https://host:5000/v1/" → "host:5000"; Docker Hub aliases → "docker.io". */
export function authKeyHost(key: string): string {
  const host = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/\/.*$/, "").toLowerCase();
  return HUB_ALIASES.has(host) ? DEFAULT_DOMAIN : host;
}

/** The `auths` key `stack login` writes for a registry. */
export function authKeyFor(domain: string): string {
  return authKeyHost(domain) === DEFAULT_DOMAIN ? DOCKER_HUB_AUTH_KEY : domain;
}

function readConfig(path: string): DockerConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw e;
  }
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(`${path}: not valid JSON (${(e as Error).message})`, { hint: "fix or remove the file, then `stack login` again", cause: e });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidInputError(`${path}: expected a JSON object`, { hint: "fix or remove the file, then `stack login` again" });
  }
  const config = parsed as DockerConfigFile;
  if (config.auths !== undefined && (typeof config.auths !== "object" || config.auths === null || Array.isArray(config.auths))) {
    throw new InvalidInputError(`${path}: "auths" must be an object`, { hint: 'it maps registries to {"auth": "<base64 user:password>"}' });
  }
  return config;
}

function decodeEntry(path: string, key: string, entry: AuthEntry): Credentials | undefined {
  let username = entry.username ?? "";
  let password = entry.password ?? "";
  if (typeof entry.auth === "string" && entry.auth !== "") {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) {
      throw new InvalidInputError(`${path}: auths.${JSON.stringify(key)}.auth is not base64 of "user:password"`, { hint: `run \`stack login ${authKeyHost(key)}\` again` });
    }
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const identityToken = typeof entry.identitytoken === "string" && entry.identitytoken !== "" ? entry.identitytoken : undefined;
  if (username === "" && identityToken === undefined) return undefined;
  return { username, password, ...(identityToken ? { identityToken } : {}) };
}

/**
 * The credentials for `domain` ("docker.io", "localhost:5000"), or undefined:
 * from its `credHelpers` helper, else the `credsStore` helper, else `auths`
 * — Docker's order.
 */
export function loadCredentials(authFile: string | undefined, domain: string, helper: CredentialHelper = runCredentialHelper): Credentials | undefined {
  if (!authFile) return undefined;
  const config = readConfig(authFile);
  const host = authKeyHost(domain);
  const helperKey = Object.keys(config.credHelpers ?? {}).sort().find((k) => authKeyHost(k) === host);
  const helperName = helperKey !== undefined ? config.credHelpers![helperKey] : config.credsStore;
  if (typeof helperName === "string" && helperName !== "") return helper(helperName, authKeyFor(domain));
  const keys = Object.keys(config.auths ?? {}).sort();
  // An exact key first, then any spelling of the same host (scheme, path).
  const key = keys.find((k) => k === domain) ?? keys.find((k) => authKeyHost(k) === host);
  return key === undefined ? undefined : decodeEntry(authFile, key, config.auths![key]!);
}

/** Stores credentials for `domain` (replacing any spelling of the same host), file mode 0600. */
export function storeCredentials(authFile: string, domain: string, credentials: { username: string; password: string }): void {
  const config = readConfig(authFile);
  const host = authKeyHost(domain);
  const auths: Record<string, AuthEntry> = {};
  for (const [k, v] of Object.entries(config.auths ?? {})) if (authKeyHost(k) !== host) auths[k] = v;
  auths[authKeyFor(domain)] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64") };
  writeConfig(authFile, { ...config, auths });
}

/** Forgets `domain`'s credentials; false when there were none. */
export function removeCredentials(authFile: string, domain: string): boolean {
  const config = readConfig(authFile);
  const host = authKeyHost(domain);
  const before = Object.keys(config.auths ?? {});
  const kept = before.filter((k) => authKeyHost(k) !== host);
  if (kept.length === before.length) return false;
  const auths: Record<string, AuthEntry> = {};
  for (const k of kept) auths[k] = config.auths![k]!;
  writeConfig(authFile, { ...config, auths });
  return true;
}

function writeConfig(path: string, config: DockerConfigFile): void {
  // writeFileAtomic creates the folder; Docker makes ~/.docker 0700 — the file mode is what guards the secret.
  writeFileAtomic(path, JSON.stringify(config, null, "\t") + "\n", 0o600);
}
