// What a build step needs only when it does work — plans a COPY, views a
// stage's layers, writes a layer — as one module the builder imports on
// first use. A fully cached build (each step confirmed by its record or by
// its source memo) then neither reads nor compiles it: ~40 KB of bundle that
// V8 would otherwise parse on every `stack build`.
export { copyLayerTar, parseChmod, parseChown, planCopy } from "./copy.js";
export { LayeredFs } from "./layered-fs.js";
export { canWriteFolder, LayerFolderWriter } from "./layer-folder.js";
export { layerTar } from "./layer-tar.js";
export { ContextFs, LayeredSource } from "./source-fs.js";
