// Kubernetes naming rules, and how stack names map onto them.
//
// Service names become object, container and DNS names, so they must already
// be valid: a wrong one is an error with a suggested name (renaming silently
// would break every other service that reaches it by that hostname).
// Volume, config and secret keys are only referenced inside the manifests, so
// they are renamed by a fixed rule instead: lowercase, and every character
// outside [a-z0-9-] becomes "-" (`db_data` → `db-data`).
import { InvalidInputError } from "../../errors.js";

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const labelName = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDns1123Label(name: string): boolean {
  return name.length <= 63 && dns1123Label.test(name);
}

/** Service (the Kubernetes object) names must also start with a letter. */
export function isDns1035Label(name: string): boolean {
  return name.length <= 63 && dns1035Label.test(name);
}

/** The closest valid DNS-1035 label: lowercase, other characters → "-", starts with a letter. */
export function suggestLabel(name: string, maxLength = 63): string {
  let s = name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").replace(/^-+/, "");
  if (!/^[a-z]/.test(s)) s = `s-${s}`;
  return s.slice(0, maxLength).replace(/-+$/, "") || "service";
}

/**
 * Checks a service name. `suffixLength` reserves room for derived names
 * (`<service>-public`, `<service>-env`).
 */
export function checkServiceName(name: string, suffixLength: number): void {
  const max = 63 - suffixLength;
  if (isDns1035Label(name) && name.length <= max) return;
  const suggestion = suggestLabel(name, max);
  throw new InvalidInputError(
    `services.${name}: "${name}" is not a valid Kubernetes name (lowercase letters, digits and "-", starting with a letter, at most ${max} characters)`,
    { hint: `rename the service to "${suggestion}" (and every hostname that refers to it) before exporting` },
  );
}

/** `db_data` → `db-data`; the dotted path names the key in errors. */
export function objectNameFor(key: string, path: string): string {
  const s = key.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63).replace(/-+$/, "");
  if (s === "") {
    throw new InvalidInputError(`${path}: "${key}" cannot be turned into a Kubernetes name`, { hint: "use letters and digits in the name" });
  }
  return s;
}

/** A ConfigMap or Secret data key: [-._a-zA-Z0-9]+. */
export function dataKeyFor(key: string): string {
  return key.replace(/[^-._a-zA-Z0-9]+/g, "-") || "data";
}

/** Label keys: optional DNS subdomain prefix + "/" + a name of at most 63 characters. */
export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length > 253 || !subdomain.test(prefix)) return false;
  }
  return name.length <= 63 && labelName.test(name);
}

export function isLabelValue(value: string): boolean {
  return value === "" || (value.length <= 63 && labelName.test(value));
}

/** Annotation keys follow the label key rule (their values are free text). */
export const isAnnotationKey = isLabelKey;
