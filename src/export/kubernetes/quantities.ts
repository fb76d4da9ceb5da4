// Kubernetes resource quantities from the model's units (cpus as a float,
// bytes as a number). Output is the shortest exact form, so manifests stay
// readable and a round trip loses nothing.

/** 0.5 → "500m", 2 → "2", 0.25 → "250m" (Kubernetes has millicpu precision). */
export function cpuQuantity(cpus: number): string {
  const milli = Math.round(cpus * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

const binaryUnits: Array<[string, number]> = [
  ["Ti", 2 ** 40],
  ["Gi", 2 ** 30],
  ["Mi", 2 ** 20],
  ["Ki", 2 ** 10],
];

/** 536870912 → "512Mi"; a count that is no whole binary unit stays in bytes. */
export function memoryQuantity(bytes: number): string {
  for (const [suffix, size] of binaryUnits) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(Math.round(bytes));
}

const quantityPattern = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

export function isStorageQuantity(text: string): boolean {
  return quantityPattern.test(text);
}

/** Milliseconds → whole seconds, rounded up, at least `min`. */
export function secondsFrom(ms: number, min: number): number {
  return Math.max(min, Math.ceil(ms / 1000));
}
