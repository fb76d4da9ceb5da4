// One registry's HTTP API (OCI distribution v2) with its authentication:
// the scheme is found with a `GET /v2/` ping (HTTPS, and plain HTTP only for
// loopback hosts and hosts listed as insecure), then each request carries
// what the registry's challenge asked for — nothing (anonymous), Basic
// credentials, or a Bearer token fetched from the challenge's realm for the
// request's scopes ("repository:team/app:pull,push") and cached until it
// expires. A 401 with a wider scope fetches a new token once and retries.
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import type https from "node:https";
import { isIP } from "node:net";
import type { SecureContext } from "node:tls";
import { join } from "node:path";
import { Readable } from "node:stream";
import { InvalidInputError, NotFoundError, SystemError, UnsupportedError } from "../../errors.js";
import { DEFAULT_DOMAIN } from "../reference.js";
import { loadCredentials, type CredentialHelper, type Credentials } from "./auth-config.js";
import { blobGet, type BlobGetOptions, type BlobGetResult } from "./blob-get.js";
import { parseChallenges, type Challenge } from "./challenge.js";
import { DEFAULT_CERTS_DIR, tlsMaterialFor, type TlsMaterial } from "./tls-config.js";

export interface RegistryAccess {
  /** Docker's config.json with `auths`; absent: anonymous only. */
  authFile?: string;
  /** Docker-style certs.d folder (default /etc/stack/certs.d). */
  certsDir?: string;
  /** Registries ("host" or "host:port") that may be reached over plain HTTP besides loopback ones. */
  insecure?: string[];
  /** Use these instead of the auth file (stack login checks them before storing). */
  credentials?: Credentials;
  /** Runs `docker-credential-<name>` (default: the real binary); tests inject their own. */
  credentialHelper?: CredentialHelper;
  /** Seconds without data before a request is abandoned (default 120). */
  idleTimeoutSeconds?: number;
}

export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Must be read or destroyed by the caller. */
  body: IncomingMessage;
  url: URL;
}

export interface RequestOptions {
  /** Token scopes the request needs, e.g. ["repository:library/busybox:pull"]. */
  scopes: string[];
  headers?: Record<string, string>;
  /** The body, made afresh for a retry after a new token. */
  body?: () => Readable | Buffer;
  /** Absolute URL (upload locations) instead of base + path. */
  url?: URL;
}

const USER_AGENT = "stack (OCI distribution client)";
const MAX_REDIRECTS = 5;
const MAX_ERROR_BODY = 64 * 1024;

/** Docker Hub's API lives on another host than its name. */
export function apiHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? "registry-1.docker.io" : domain;
}

function hostname(host: string): string {
  if (host.startsWith("[")) return host.slice(1, host.indexOf("]"));
  const colon = host.lastIndexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}

function isLoopback(host: string): boolean {
  const name = hostname(host).toLowerCase();
  return name === "localhost" || name === "::1" || (isIP(name) === 4 && name.startsWith("127."));
}

/** Loopback registries (localhost, 127.0.0.0/8, ::1) and listed ones may use plain HTTP. */
export function mayUsePlainHttp(host: string, insecure: string[] = []): boolean {
  const name = hostname(host).toLowerCase();
  if (isLoopback(host)) return true;
  return insecure.some((i) => i.toLowerCase() === host.toLowerCase() || i.toLowerCase() === name);
}

/** node:https and node:tls, loaded by the first HTTPS request: a pull from a plain loopback registry never needs them (~12 ms of start-up). */
let tlsModules: { https: typeof import("node:https"); tls: typeof import("node:tls") } | undefined;

async function loadTls(): Promise<void> {
  const [h, t] = await Promise.all([import("node:https"), import("node:tls")]);
  tlsModules = { https: h.default, tls: t };
}

/** The scheme that worked for a host, tried first for the rest of the process's lifetime. */
const knownBases = new Map<string, string>();

export class RegistryClient {
  readonly host: string;
  private base?: URL;
  private challenge?: Challenge | null;
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  private readonly httpAgent: http.Agent;
  private httpsAgent?: https.Agent;
  private tlsContext?: SecureContext;
  private tls?: TlsMaterial;
  private readonly credentials: Credentials | undefined;
  private readonly idleMs: number;

  constructor(readonly domain: string, private readonly access: RegistryAccess = {}) {
    this.host = apiHost(domain);
    this.credentials = access.credentials ?? loadCredentials(access.authFile, domain, access.credentialHelper);
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    this.idleMs = (access.idleTimeoutSeconds ?? 120) * 1000;
  }

  /** Ends kept-alive connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent?.destroy();
  }

  /** "https://host:5000" once pinged. */
  async baseUrl(): Promise<URL> {
    await this.ping();
    return this.base!;
  }

  /** Sends a request with the authentication the registry wants. 401/403 become clear errors; other statuses are the caller's. */
  async request(method: string, path: string, options: RequestOptions): Promise<RegistryResponse> {
    await this.ping();
    const url = options.url ?? new URL(path, this.base);
    let auth = await this.authorization(options.scopes, false);
    let res = await this.send(method, url, { ...options.headers, ...(auth ? { authorization: auth } : {}) }, options.body);
    if (res.status === 401 && this.challenge?.scheme === "bearer") {
      // The token lacked a scope (or expired): ask again with what the registry named.
      const extra = parseChallenges(headerText(res.headers["www-authenticate"])).find((c) => c.scheme === "bearer")?.params.scope;
      res.body.resume();
      auth = await this.authorization([...options.scopes, ...(extra ? [extra] : [])], true);
      res = await this.send(method, url, { ...options.headers, ...(auth ? { authorization: auth } : {}) }, options.body);
    }
    if (res.status === 401 || res.status === 403) {
      const detail = await errorDetail(res);
      throw this.denied(options.scopes, detail);
    }
    return res;
  }

  /**
   * GETs `path` on a connection of its own that reads into one reused buffer
   * (blob-get.ts), giving a 200 answer's body to `onBody` piece by piece.
   * Any other status is returned unread for the caller to redo the request
   * with request(), which handles token scopes, redirects and errors.
   */
  async getInto(path: string, scopes: string[], onBody: BlobGetOptions["onBody"], onStart?: BlobGetOptions["onStart"]): Promise<BlobGetResult> {
    await this.ping();
    const url = new URL(path, this.base);
    const auth = await this.authorization(scopes, false);
    return blobGet(url, {
      headers: { "User-Agent": USER_AGENT, ...(auth ? { Authorization: auth } : {}) },
      ...(url.protocol === "https:" ? { secureContext: this.secureContext() } : {}),
      idleMs: this.idleMs,
      onBody,
      ...(onStart ? { onStart } : {}),
    });
  }

  /** Checks credentials as `docker login` does: /v2/ with Basic, or a token with no scope. */
  async checkLogin(): Promise<void> {
    await this.ping();
    if (!this.credentials) throw new InvalidInputError("no credentials given", { hint: "pass --username and --password or --password-stdin" });
    if (this.challenge === null) return;
    if (this.challenge?.scheme === "bearer") {
      await this.fetchToken([]);
      return;
    }
    const res = await this.send("GET", new URL("/v2/", this.base), { authorization: this.basicAuth()! });
    res.body.resume();
    if (res.status !== 200) throw new InvalidInputError(`login to ${this.domain} failed: the registry answered ${res.status}`, { hint: "check the user name and password" });
  }

  // ---- internals ----

  private async ping(): Promise<void> {
    if (this.base && this.challenge !== undefined) return;
    const known = knownBases.get(this.host);
    // A loopback registry is asked over plain HTTP first: a TLS one answers that with an error and is then
    // asked over HTTPS, while a plain one costs no TLS set-up (parsing the CA bundle takes ~0.1 s).
    const plainFirst = isLoopback(this.host);
    const allowed = mayUsePlainHttp(this.host, this.access.insecure)
      ? plainFirst
        ? [`http://${this.host}`, `https://${this.host}`]
        : [`https://${this.host}`, `http://${this.host}`]
      : [`https://${this.host}`];
    // What worked before goes first; the others stay as fallbacks (a loopback port may have been reused by another server).
    const candidates = known && allowed.includes(known) ? [known, ...allowed.filter((c) => c !== known)] : allowed;
    let firstError: unknown;
    /** Why HTTPS failed (an untrusted certificate, say) says more than a plain-HTTP attempt's failure. */
    let tlsError: unknown;
    for (const candidate of candidates) {
      const base = new URL(candidate);
      let res: RegistryResponse;
      try {
        res = await this.send("GET", new URL("/v2/", base), {});
      } catch (e) {
        firstError ??= e;
        if (base.protocol === "https:") tlsError ??= e;
        continue;
      }
      res.body.resume();
      const last = candidate === candidates[candidates.length - 1];
      // A plain-HTTP answer from a TLS port (400) or, over HTTPS, anything that is not a registry's: try the next scheme.
      const tryNext = base.protocol === "http:" ? res.status === 400 : res.status !== 401 && (res.status < 200 || res.status >= 300);
      if (!last && tryNext) {
        firstError ??= new Error(`GET ${base.origin}/v2/ answered ${res.status}`);
        continue;
      }
      if (res.status === 400 && candidate.startsWith("http:") && firstError) break;
      this.base = base;
      knownBases.set(this.host, candidate);
      if (res.status === 401) {
        const challenges = parseChallenges(headerText(res.headers["www-authenticate"]));
        this.challenge = challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic") ?? null;
        if (this.challenge === null) throw new UnsupportedError(`registry ${this.domain} asks for an authentication scheme stack does not speak (${headerText(res.headers["www-authenticate"]) || "none given"})`);
      } else if (res.status >= 200 && res.status < 300) {
        this.challenge = null;
      } else if (res.status === 404) {
        throw new UnsupportedError(`${base.origin} does not speak the registry API v2 (GET /v2/ answered 404)`, { hint: "check the registry host and port" });
      } else {
        this.challenge = null; // some registries answer odd statuses on /v2/; let the real requests tell
      }
      return;
    }
    const cause = (tlsError ?? firstError) as Error;
    const plainHint = mayUsePlainHttp(this.host, this.access.insecure) ? "" : ` If it serves plain HTTP, list it as insecure (STACK_INSECURE_REGISTRIES=${this.host}).`;
    throw new SystemError(`cannot reach registry ${this.domain} at ${candidates.join(" or ")}: ${cause?.message ?? cause}`, {
      hint: `check that the registry is up and that its TLS certificate is trusted (put its CA in ${join(this.access.certsDir ?? DEFAULT_CERTS_DIR, this.host)}/ca.crt).${plainHint}`,
      cause,
    });
  }

  /** One TLS context for all connections of this client, made on first use: each would otherwise parse the whole CA bundle again. */
  private secureAgent(): https.Agent {
    this.httpsAgent ??= new tlsModules!.https.Agent({ keepAlive: true, maxSockets: 8, secureContext: this.secureContext() });
    return this.httpsAgent;
  }

  private secureContext(): SecureContext {
    // Read only when TLS is used: a plain loopback registry never needs the CA bundle (~7 ms to read).
    const { ca, cert, key } = (this.tls ??= tlsMaterialFor(this.host, this.access.certsDir));
    this.tlsContext ??= tlsModules!.tls.createSecureContext({ ca, ...(cert ? { cert, key } : {}) });
    return this.tlsContext;
  }

  private basicAuth(): string | undefined {
    const c = this.credentials;
    return c && !c.identityToken ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}` : undefined;
  }

  private async authorization(scopes: string[], fresh: boolean): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === "basic") return this.basicAuth();
    const key = [...new Set(scopes)].sort().join(" ");
    const cached = this.tokens.get(key);
    if (!fresh && cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.fetchToken([...new Set(scopes)].sort());
    return `Bearer ${token}`;
  }

  private async fetchToken(scopes: string[]): Promise<string> {
    const params = this.challenge!.params;
    if (!params.realm) throw new UnsupportedError(`registry ${this.domain} asks for a Bearer token but names no realm`);
    let realm: URL;
    try {
      realm = new URL(params.realm);
    } catch {
      throw new UnsupportedError(`registry ${this.domain} names an invalid token realm ${JSON.stringify(params.realm)}`);
    }
    let res: RegistryResponse;
    const refresh = this.credentials?.identityToken;
    if (refresh) {
      // An identity token is an OAuth2 refresh token: exchange it with a POST (distribution's token spec).
      const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: refresh, client_id: "stack", ...(params.service ? { service: params.service } : {}) });
      if (scopes.length > 0) form.set("scope", scopes.join(" "));
      const body = Buffer.from(form.toString());
      res = await this.send("POST", realm, { "content-type": "application/x-www-form-urlencoded" }, () => body);
    } else {
      if (params.service) realm.searchParams.set("service", params.service);
      for (const s of scopes) realm.searchParams.append("scope", s);
      const headers: Record<string, string> = {};
      const basic = this.basicAuth();
      if (basic) headers.authorization = basic;
      res = await this.send("GET", realm, headers);
    }
    const body = await readLimited(res.body, 1 << 20);
    if (res.status === 401 || res.status === 403) throw this.denied(scopes, body.toString("utf8").slice(0, 300));
    if (res.status !== 200) throw new SystemError(`token server ${realm.origin} answered ${res.status} for ${this.domain}`, { hint: body.toString("utf8").slice(0, 300) || undefined });
    let parsed: { token?: string; access_token?: string; expires_in?: number };
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch (e) {
      throw new SystemError(`token server ${realm.origin} sent a reply that is not JSON`, { cause: e });
    }
    const token = parsed.token ?? parsed.access_token;
    if (!token) throw new SystemError(`token server ${realm.origin} sent no token`);
    const lifetime = Math.max(10, parsed.expires_in ?? 60);
    this.tokens.set(scopes.join(" "), { token, expires: Date.now() + (lifetime - 5) * 1000 });
    return token;
  }

  private denied(scopes: string[], detail: string): InvalidInputError {
    const what = scopes.map((s) => s.replace(/^repository:/, "")).join(", ") || this.domain;
    const who = this.credentials ? (this.credentials.username ? `as ${this.credentials.username}` : "with an identity token") : "anonymously";
    return new InvalidInputError(`access to ${what} on ${this.domain} denied ${who}${detail ? `: ${detail}` : ""}`, {
      hint: this.credentials ? `check the permissions of ${this.credentials.username || "the token's account"}, or \`stack login ${this.domain}\` again` : `the repository may not exist, or needs \`stack login ${this.domain}\``,
    });
  }

  /** One HTTP exchange; GET/HEAD follow redirects (blob storage), dropping credentials on another host. */
  private send(method: string, url: URL, headers: Record<string, string>, body?: () => Readable | Buffer, redirects = 0): Promise<RegistryResponse> {
    if (url.protocol !== "http:" && !tlsModules) return loadTls().then(() => this.send(method, url, headers, body, redirects));
    return new Promise((resolve, reject) => {
      const lib = url.protocol === "http:" ? http : tlsModules!.https;
      const payload = body?.();
      const req = lib.request(
        url,
        {
          method,
          agent: url.protocol === "http:" ? this.httpAgent : this.secureAgent(),
          headers: { "user-agent": USER_AGENT, ...headers, ...(Buffer.isBuffer(payload) ? { "content-length": String(payload.length) } : {}) },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const location = res.headers.location;
          if ((method === "GET" || method === "HEAD") && [301, 302, 303, 307, 308].includes(status) && location && redirects < MAX_REDIRECTS) {
            res.resume();
            const next = new URL(location, url);
            const h = { ...headers };
            if (next.host !== url.host) delete h.authorization;
            this.send(method, next, h, undefined, redirects + 1).then(resolve, reject);
            return;
          }
          res.setTimeout(this.idleMs, () => res.destroy(new SystemError(`registry ${this.domain} sent nothing for ${this.idleMs / 1000}s (${method} ${url.pathname})`)));
          resolve({ status, headers: res.headers, body: res, url });
        },
      );
      req.setTimeout(this.idleMs, () => req.destroy(new SystemError(`registry ${this.domain} did not answer within ${this.idleMs / 1000}s (${method} ${url.pathname})`)));
      req.on("error", reject);
      if (payload === undefined) req.end();
      else if (Buffer.isBuffer(payload)) req.end(payload);
      else {
        payload.on("error", (e) => req.destroy(e));
        payload.pipe(req);
      }
    });
  }
}

function headerText(h: string | string[] | undefined): string {
  return Array.isArray(h) ? h.join(", ") : h ?? "";
}

/** Reads a whole body, refusing one larger than `limit` bytes. */
export async function readLimited(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new InvalidInputError(`the registry sent more than ${limit} bytes where a small document was expected`, { hint: "the registry is misbehaving or not a registry" });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The registry's error codes and messages from a failed response ({"errors":[{code,message}]}), consuming the body. */
export async function errorDetail(res: RegistryResponse): Promise<string> {
  let text = "";
  try {
    text = (await readLimited(res.body, MAX_ERROR_BODY)).toString("utf8");
  } catch {
    return "";
  }
  try {
    const parsed = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) return parsed.errors.map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ");
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 200);
}

/** A status the caller did not expect, as an error naming the request. */
export async function unexpected(res: RegistryResponse, what: string): Promise<Error> {
  const detail = await errorDetail(res);
  const message = `${what}: the registry answered ${res.status}${detail ? ` (${detail})` : ""}`;
  if (res.status === 404) return new NotFoundError(message, { hint: "check the name and tag; `skopeo list-tags` shows what the repository has" });
  return new SystemError(message);
}
