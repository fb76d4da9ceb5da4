// Platforms ("linux/amd64", "linux/arm64/v8") and the choice of one image
// from an OCI image index or Docker manifest list, as containerd's default
// matcher does: same OS and architecture, the variant when one is asked for
// (arm64 with no variant means v8, arm means v7). Pure.
import { InvalidInputError, NotFoundError } from "../../errors.js";
import type { Descriptor } from "../store/index.js";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH_ALIASES: Record<string, string> = { x86_64: "amd64", "x86-64": "amd64", aarch64: "arm64", armhf: "arm", armel: "arm", i386: "386", x64: "amd64", ia32: "386" };
const NODE_ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
const DEFAULT_VARIANT: Record<string, string> = { arm64: "v8", arm: "v7" };

/** The platform of this machine: linux/<node arch mapped to OCI names>. */
export function hostPlatform(nodeArch: string = process.arch): Platform {
  return { os: "linux", architecture: NODE_ARCH[nodeArch] ?? nodeArch };
}

/** "linux/amd64", "linux/arm64/v8", "linux" (host architecture), "arm64" (linux). */
export function parsePlatform(input: string, host: Platform = hostPlatform()): Platform {
  const parts = input.trim().toLowerCase().split("/");
  const bad = (why: string) =>
    new InvalidInputError(`invalid platform ${JSON.stringify(input)}: ${why}`, { hint: 'write OS/ARCH[/VARIANT], e.g. "linux/amd64" or "linux/arm64/v8"' });
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) throw bad("expected OS/ARCH[/VARIANT]");
  let os: string;
  let arch: string;
  let variant: string | undefined;
  if (parts.length === 1) {
    const only = parts[0]!;
    const known = ["linux", "windows", "darwin", "freebsd"];
    if (known.includes(only)) {
      os = only;
      arch = host.architecture;
    } else {
      os = "linux";
      arch = only;
    }
  } else {
    [os, arch, variant] = parts as [string, string, string | undefined];
  }
  arch = ARCH_ALIASES[arch] ?? arch;
  if (arch === "arm64" && variant === "8") variant = "v8";
  return { os, architecture: arch, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

function variantMatches(wanted: Platform, got: { architecture: string; variant?: string }): boolean {
  const def = DEFAULT_VARIANT[wanted.architecture];
  const want = wanted.variant ?? def;
  const have = got.variant ?? def;
  if (wanted.variant === undefined) return true;
  return want === have;
}

/**
 * The entry of an index to use for `wanted`: an exact variant match first,
 * then any entry of the same OS and architecture. Attestation entries
 * (platform unknown/unknown) never match. Throws NotFoundError listing what
 * the index offers.
 */
export function selectManifest(manifests: Descriptor[], wanted: Platform, what: string): Descriptor {
  const candidates = manifests.filter((m) => m.platform && m.platform.os === wanted.os && (ARCH_ALIASES[m.platform.architecture] ?? m.platform.architecture) === wanted.architecture);
  const def = DEFAULT_VARIANT[wanted.architecture];
  const score = (m: Descriptor): number => {
    const v = m.platform!.variant;
    if (wanted.variant !== undefined) return v === wanted.variant || (v === undefined && wanted.variant === def) ? 2 : -1;
    if (v === undefined || v === def) return 2;
    return 1;
  };
  const ranked = candidates.filter((m) => variantMatches(wanted, m.platform!) && score(m) > 0).sort((a, b) => score(b) - score(a));
  if (ranked[0]) return ranked[0];
  const offered = [...new Set(manifests.filter((m) => m.platform && m.platform.os !== "unknown").map((m) => formatPlatform(m.platform!)))].sort();
  throw new NotFoundError(`${what} has no image for platform ${formatPlatform(wanted)}`, {
    hint: offered.length > 0 ? `it offers ${offered.join(", ")}; set \`platform:\` (or --platform) to one of them` : "the index lists no platforms",
  });
}
