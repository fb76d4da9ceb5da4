// How images are shown: the `stack images` table (Docker's columns, sizes
// and ages) and the `stack image inspect` document. Pure: records in, text
// or values out.
import { familiarRepository, parseReference } from "../reference.js";
import { shortId, type ImageRecord } from "./image-store.js";

export interface ImageRow {
  repository: string;
  tag: string;
  id: string;
  /** Full image ID, for --format json. */
  fullId: string;
  digest: string;
  created: string;
  createdSince: string;
  size: string;
  sizeBytes: number;
}

/** Docker's human size: decimal units, 3 significant digits ("4.26MB"). */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let value = bytes;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return `${Number(value.toPrecision(3))}${units[i]}`;
}

/** Docker's "N units ago" (go-units HumanDuration). */
export function humanAge(fromIso: string | undefined, now: Date): string {
  if (!fromIso) return "N/A";
  const seconds = Math.max(0, (now.getTime() - new Date(fromIso).getTime()) / 1000);
  const hours = seconds / 3600;
  const text =
    seconds < 1 ? "Less than a second"
    : seconds < 60 ? `${Math.floor(seconds)} seconds`
    : seconds < 120 ? "About a minute"
    : seconds < 3600 ? `${Math.floor(seconds / 60)} minutes`
    : hours < 1.5 ? "About an hour"
    : hours < 48 ? `${Math.round(hours)} hours`
    : hours < 24 * 14 ? `${Math.floor(hours / 24)} days`
    : hours < 24 * 90 ? `${Math.floor(hours / 24 / 7)} weeks`
    : hours < 24 * 730 ? `${Math.floor(hours / 24 / 30)} months`
    : `${Math.floor(hours / 24 / 365)} years`;
  return `${text} ago`;
}

/** One row per name (an image without names shows as <none>), newest first, then by repository and tag. */
export function imageRows(records: ImageRecord[], now: Date): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const r of records) {
    const base = { id: shortId(r.id), fullId: r.id, digest: r.digest, created: r.created ?? "", createdSince: humanAge(r.created, now), size: humanSize(r.size), sizeBytes: r.size };
    if (r.names.length === 0) rows.push({ repository: "<none>", tag: "<none>", ...base });
    for (const name of r.names) {
      const ref = parseReference(name);
      rows.push({ repository: familiarRepository(ref), tag: ref.tag ?? "<none>", ...base });
    }
  }
  return rows.sort((a, b) => (a.created !== b.created ? (a.created < b.created ? 1 : -1) : a.repository !== b.repository ? (a.repository < b.repository ? -1 : 1) : a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}

export function renderImageTable(rows: ImageRow[]): string {
  const header = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"];
  const cells = [header, ...rows.map((r) => [r.repository, r.tag, r.id, r.createdSince, r.size])];
  const widths = header.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]! + 3))).join("").trimEnd() + "\n").join("");
}

/** The `stack image inspect` document: Docker's field names where they exist, plus the OCI manifest. */
export function inspectView(r: ImageRecord, layerDirs?: string[]) {
  const names = r.names.map((n) => parseReference(n));
  return {
    Id: r.id,
    RepoTags: names.filter((n) => n.tag !== undefined).map((n) => `${familiarRepository(n)}:${n.tag}`),
    RepoDigests: [...new Set(names.map((n) => `${familiarRepository(n)}@${r.digest}`))],
    Created: r.created ?? "",
    Architecture: r.image.architecture,
    Os: r.image.os,
    ...(r.image.variant ? { Variant: r.image.variant } : {}),
    Size: r.size,
    Config: r.image.config ?? {},
    RootFS: { Type: r.image.rootfs.type, Layers: r.image.rootfs.diff_ids },
    History: r.image.history ?? [],
    Manifest: { Digest: r.digest, MediaType: r.manifest.mediaType ?? "", Layers: r.manifest.layers },
    ...(layerDirs ? { GraphDriver: { Name: "overlay", Data: { LowerDirs: layerDirs } } } : {}),
  };
}
