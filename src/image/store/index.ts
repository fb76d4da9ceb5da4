// The image store's public face. See image-store.ts for the contract.
export { ImageStore, checkManifest, shortId, type ImageRecord, type ImageStoreDependencies, type ImportOptions } from "./image-store.js";
export type { BlobInfo, BlobWriting, ExpectedBlob } from "./content-store.js";
export { layerId, type LayerUnpacking, type UnpackedLayer } from "./layer-store.js";
export type { MountTable } from "./mount-table.js";
export { applyChanges } from "./changes.js";
export { MediaTypes, type Descriptor, type HealthcheckConfig, type HistoryEntry, type ImageManifest, type OciImage, type OciImageConfig } from "./oci-types.js";
