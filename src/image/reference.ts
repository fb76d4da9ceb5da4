// Image references, parsed and normalised the way Docker does
// (distribution/reference): `busybox` is `docker.io/library/busybox:latest`,
// `me/app` is `docker.io/me/app:latest`, `localhost:5000/app@sha256:…` keeps
// its registry and digest. Pure: strings in, values out.
import { InvalidInputError } from "../errors.js";

export interface ImageReference {
  /** Registry host with optional port: "docker.io", "localhost:5000", "[::1]:5000". */
  domain: string;
  /** Repository path inside the registry: "library/busybox", "me/app". */
  path: string;
  /** Absent only when the reference names a digest and no tag. */
  tag?: string;
  /** "sha256:<64 hex>" and similar. */
  digest?: string;
}

export const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
const OFFICIAL_REPO_PREFIX = "library/";
const DEFAULT_TAG = "latest";
const MAX_NAME_LENGTH = 255;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_NAME = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*$/;
const IPV6_HOST = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const SHA256_HEX = /^[a-f0-9]{64}$/;

function invalid(input: string, why: string): InvalidInputError {
  return new InvalidInputError(`invalid image reference ${JSON.stringify(input)}: ${why}`, {
    hint: "write NAME[:TAG][@DIGEST], e.g. busybox, busybox:1.36, localhost:5000/team/app:dev or app@sha256:<64 hex>",
  });
}

function validDomain(domain: string): boolean {
  let host = domain;
  const colon = domain.lastIndexOf(":");
  if (colon !== -1 && !domain.endsWith("]")) {
    if (!PORT.test(domain.slice(colon + 1))) return false;
    host = domain.slice(0, colon);
  }
  return DOMAIN_NAME.test(host) || IPV6_HOST.test(host);
}

/** Docker treats the first component as a registry when it has a "." or ":", is "localhost", or has upper case letters. */
function looksLikeDomain(component: string): boolean {
  return /[.:]/.test(component) || component === "localhost" || component.toLowerCase() !== component;
}

/** Parses and normalises a reference; a reference with neither tag nor digest gets the tag "latest". */
export function parseReference(input: string): ImageReference {
  if (input === "") throw invalid(input, "it is empty");
  if (SHA256_HEX.test(input)) throw invalid(input, "a 64-character hexadecimal string is an image ID, not a name");
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(input, `digest ${JSON.stringify(digest)} is not ALGORITHM:HEX`);
    if (digest.startsWith("sha256:") && !SHA256_HEX.test(digest.slice(7))) throw invalid(input, "a sha256 digest has 64 lower-case hex digits");
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw invalid(input, `tag ${JSON.stringify(tag)} may use letters, digits, "_", "." and "-" (up to 128, not starting with "." or "-")`);
  }
  if (rest === "") throw invalid(input, "the repository name is empty");
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const firstSlash = rest.indexOf("/");
  if (firstSlash !== -1 && looksLikeDomain(rest.slice(0, firstSlash))) {
    domain = rest.slice(0, firstSlash);
    path = rest.slice(firstSlash + 1);
    if (!validDomain(domain)) throw invalid(input, `registry ${JSON.stringify(domain)} is not HOST[:PORT]`);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = OFFICIAL_REPO_PREFIX + path;
  for (const component of path.split("/")) {
    if (!PATH_COMPONENT.test(component)) {
      const why = component.toLowerCase() !== component && PATH_COMPONENT.test(component.toLowerCase())
        ? "repository names must be lower case"
        : `path component ${JSON.stringify(component)} may use a-z, 0-9 and single separators ".", "_", "__" or "-"`;
      throw invalid(input, why);
    }
  }
  if (domain.length + 1 + path.length > MAX_NAME_LENGTH) throw invalid(input, `the name is longer than ${MAX_NAME_LENGTH} characters`);
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** "docker.io/library/busybox" — the repository, without tag or digest. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The canonical full form: "docker.io/library/busybox:latest", "host:5000/app@sha256:…". */
export function formatReference(ref: ImageReference): string {
  return repositoryName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : "") + (ref.digest !== undefined ? `@${ref.digest}` : "");
}

/** The repository as users write it: "busybox", "me/app", "localhost:5000/app". */
export function familiarRepository(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  return ref.path.startsWith(OFFICIAL_REPO_PREFIX) && ref.path.split("/").length === 2 ? ref.path.slice(OFFICIAL_REPO_PREFIX.length) : ref.path;
}

/** The whole reference as users write it: "busybox:latest", "me/app@sha256:…". */
export function familiarReference(ref: ImageReference): string {
  return familiarRepository(ref) + (ref.tag !== undefined ? `:${ref.tag}` : "") + (ref.digest !== undefined ? `@${ref.digest}` : "");
}

/** Shorthand: the canonical full form of a user's reference string. */
export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}
