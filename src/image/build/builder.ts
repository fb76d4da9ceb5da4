// The builder: executes a build plan. Each stage starts from scratch, an
// earlier stage or an image of the store (pulled through the injected pull()
// when missing), runs its base image's ONBUILD triggers, then its steps:
// metadata steps change the config, RUN/COPY/ADD/WORKDIR make layers. Every
// step has a cache key (see step-cache.ts); a hit reuses the recorded layer.
// Stages of one level of the plan build side by side, bounded by the cores.
// The result's config and manifest are written to the store and tagged.
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, isAbsolute, join, posix, resolve as resolvePath } from "node:path";
import { promisify } from "node:util";
import { InvalidInputError, NotFoundError, SystemError, UnsupportedError } from "../../errors.js";
import type { ContainerRuntime } from "../../runtime/index.js";
import { compileIgnore, ignoreFileCandidates, type IgnoreRules } from "../dockerignore.js";
import type { Instruction } from "../dockerfile/instructions.js";
import { loadDockerfile } from "../dockerfile/instructions.js";
import { planBuild, type BuildPlan, type PlannedStage, type PlannedStep } from "../dockerfile/plan.js";
import { ImageStore, type ImageRecord } from "../store/index.js";
import { MediaTypes, type HistoryEntry, type ImageManifest, type OciImage, type OciImageConfig } from "../store/oci-types.js";
import type { BuildNamespace, BuildNetwork } from "./build-network.js";
import { ContentDigests } from "./content-digests.js";
import type { CopyPlan } from "./copy.js";
import { applyInstruction, argvOf, describeInstruction } from "./image-config.js";
import type { LayeredFs } from "./layered-fs.js";
import type { LayerEntry } from "./layer-tar.js";
import type { BuildRequest } from "./request.js";
import { parseRunMount } from "./run-mounts.js";
import type { ContextFs, SourceFs } from "./source-fs.js";
import { SourceMemos, SourceObserver } from "./source-memo.js";
import { stableJson, StepCache, stepKey, type CachedLayer, type StepRecord } from "./step-cache.js";
import { isUrl } from "./url-source.js";
import type { Readable } from "node:stream";

/** Planning, viewing and writing, for steps that do work (step-work.ts): loaded by the first such step. */
const stepWork = () => import("./step-work.js");

export interface BuildEnvironment {
  stateDir: string;
  runDir: string;
  store?: ImageStore;
  runtime?: ContainerRuntime;
  /** Fetches an image into the store (the registry client); absent: FROM needs the image locally. */
  pull?: (ref: string) => Promise<void>;
  /** At most this many stages at once (default: the number of cores). */
  parallel?: number;
  /** Told once, when the first step misses the cache, before it does its work (the CLI turns V8's optimizing compiler back on). */
  onCacheMiss?: () => void;
}

export type BuildProgress =
  | { type: "step"; stage: string; n: number; total: number; text: string; status: "running" }
  | { type: "step"; stage: string; n: number; total: number; text: string; status: "cached" | "done"; ms: number }
  | { type: "output"; stage: string; n: number; line: string }
  | { type: "warning"; message: string };

export interface BuildResult {
  /** Image ID (config digest). */
  id: string;
  /** Manifest digest. */
  digest: string;
  tags: string[];
}

/** A failed RUN: the step, its exit code and the last lines it printed. */
export class BuildStepError extends SystemError {
  constructor(readonly step: string, readonly exitCode: number, readonly lastLines: string[]) {
    super(`${step} failed with exit code ${exitCode}`, {
      hint: lastLines.length > 0 ? `its last output:\n  ${lastLines.join("\n  ")}` : "the command printed nothing",
      problems: [],
    });
  }
}

interface Layer extends CachedLayer {}

interface StageState {
  layers: Layer[];
  config: OciImageConfig;
  history: HistoryEntry[];
  author?: string;
  key: string;
  created: string;
}

const ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

/** Runs `tasks` with at most `limit` at a time; the first failure rejects once all running ones settle. */
async function bounded<T>(limit: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < tasks.length && failure === undefined) {
      const i = next++;
      try {
        results[i] = await tasks[i]!();
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
  if (failure !== undefined) throw failure;
  return results;
}

function readDockerfile(req: BuildRequest): { text: string; file: string } {
  if (req.dockerfileInline !== undefined) return { text: req.dockerfileInline, file: "Dockerfile (inline)" };
  const path = req.dockerfile ?? join(req.context, "Dockerfile");
  try {
    return { text: readFileSync(path, "utf8"), file: path };
  } catch (e) {
    throw new NotFoundError(`cannot read the Dockerfile ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e, hint: "check build.dockerfile (relative to the context) or use dockerfile_inline" });
  }
}

/** The context's .dockerignore: its rules, and its file and text (part of every context memo's key). */
function contextIgnore(req: BuildRequest): { rules: IgnoreRules; file: string; text: string } | undefined {
  for (const candidate of ignoreFileCandidates(req.context, req.dockerfile ?? join(req.context, "Dockerfile"))) {
    if (req.dockerfileInline !== undefined && !candidate.endsWith("/.dockerignore")) continue;
    if (existsSync(candidate)) {
      const text = readFileSync(candidate, "utf8");
      return { rules: compileIgnore(text, candidate), file: candidate, text };
    }
  }
  return undefined;
}

export class Builder {
  private readonly store: ImageStore;
  private readonly cache: StepCache;
  readonly sourceMemos: SourceMemos;
  private runtimeInstance?: ContainerRuntime;
  private readonly layerDirCache = new Map<string, string>();
  private readonly opaqueCache = new Map<string, Set<string>>();

  constructor(private readonly env: BuildEnvironment) {
    this.store = env.store ?? new ImageStore(env.stateDir);
    this.cache = new StepCache(env.stateDir);
    this.sourceMemos = new SourceMemos(this.cache.root);
    this.runtimeInstance = env.runtime;
  }

  /** The runtime, loaded on the first RUN that misses the cache. */
  async runtime(): Promise<ContainerRuntime> {
    if (!this.runtimeInstance) {
      const { openRuntime } = await import("../../runtime/index.js");
      this.runtimeInstance = openRuntime({ stateDir: this.env.stateDir, runDir: this.env.runDir });
    }
    return this.runtimeInstance;
  }

  async build(req: BuildRequest, onProgress: (e: BuildProgress) => void = () => undefined): Promise<BuildResult> {
    if (req.tags.length === 0) throw new InvalidInputError("a build needs at least one name for its image", { hint: "give the service an image: name, or pass a tag" });
    if (!existsSync(req.context) || !statSync(req.context).isDirectory()) {
      throw new NotFoundError(`build context ${JSON.stringify(req.context)} is not a folder`, { hint: "check build.context (relative to the stack file)" });
    }
    const { text, file } = readDockerfile(req);
    const fileLabel = req.dockerfileInline !== undefined ? file : basename(file);
    const { parsed, instructions } = loadDockerfile(text, fileLabel);
    const platform = { os: "linux", architecture: ARCH[process.arch] ?? process.arch };
    const planOptions = { ...(req.target !== undefined ? { target: req.target } : {}), buildArgs: req.args, platform, escapeToken: parsed.directives.escapeToken, file: fileLabel };
    // Plan twice: the first plan names the base images, whose ENV the second one substitutes with (`ENV PATH=/x:$PATH`).
    const baseEnvs = new Map<string, Record<string, string>>();
    const baseRecords = new Map<string, ImageRecord>();
    for (const stage of planBuild(instructions, planOptions).stages) {
      if (stage.base.kind !== "image" || baseEnvs.has(stage.base.ref)) continue;
      // Only what is in the store already: an image pulled later (when its stage starts) is substituted without its ENV.
      const record = await this.store.resolve(stage.base.ref);
      if (record) baseRecords.set(stage.base.ref, record);
      const env: Record<string, string> = {};
      for (const kv of record?.image.config?.Env ?? []) {
        const eq = kv.indexOf("=");
        if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      baseEnvs.set(stage.base.ref, env);
    }
    const plan = planBuild(instructions, { ...planOptions, imageEnv: (ref) => baseEnvs.get(ref) });
    for (const a of plan.unusedBuildArgs) onProgress({ type: "warning", message: `build arg ${a} was given but no ARG declares it` });

    // The build's own folder (RUN steps' files, the build network's) is made by the first step that needs it.
    const tmpDir = join(this.env.runDir, "build", `${process.pid}-${randomBytes(4).toString("hex")}`);
    const run = new BuildRun(this, req, plan, fileLabel, tmpDir, onProgress, baseRecords);
    let outcome: { ok: true; result: BuildResult } | { ok: false; error: unknown };
    try {
      const states = new Map<number, StageState>();
      for (const level of plan.levels) {
        const built = await bounded(
          this.env.parallel ?? availableParallelism(),
          level.map((i) => () => run.buildStage(plan.stages[i]!, states)),
        );
        level.forEach((i, k) => states.set(i, built[k]!));
      }
      const final = states.get(plan.target)!;
      outcome = { ok: true, result: await this.commit(final, req) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    run.saveDigests();
    // Build containers are removed while later steps run; the build is done once they are gone.
    const leftover = await run.removeContainers();
    await run.closeNetwork().catch((e: unknown) => onProgress({ type: "warning", message: `the build network could not be removed: ${(e as Error).message}` }));
    run.removeTmp();
    if (!outcome.ok) throw outcome.error;
    if (leftover !== undefined) throw leftover;
    return outcome.result;
  }

  private async commit(state: StageState, req: BuildRequest): Promise<BuildResult> {
    const config: OciImageConfig = { ...state.config };
    if (Object.keys(req.labels).length > 0) config.Labels = { ...(config.Labels ?? {}), ...req.labels };
    const image: OciImage = {
      created: state.created,
      ...(state.author ? { author: state.author } : {}),
      architecture: ARCH[process.arch] ?? process.arch,
      os: "linux",
      config,
      rootfs: { type: "layers", diff_ids: state.layers.map((l) => l.diffId) },
      history: state.history,
    };
    const configBytes = Buffer.from(JSON.stringify(image));
    const configDigest = `sha256:${createHash("sha256").update(configBytes).digest("hex")}`;
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: configBytes.length },
      layers: state.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = `sha256:${createHash("sha256").update(manifestBytes).digest("hex")}`;
    // A rebuild that changed nothing: every name already names this image, and nothing is written.
    const current = await Promise.all(req.tags.map((t) => this.store.resolve(t).catch(() => undefined)));
    if (current.every((r) => r?.digest === manifestDigest)) return { id: configDigest, digest: manifestDigest, tags: req.tags };
    await this.store.writeBlob(configBytes);
    const record = await this.store.addImage(manifestBytes, req.tags);
    return { id: record.id, digest: record.digest, tags: req.tags };
  }

  // ---- helpers for BuildRun ----

  get stepCache(): StepCache {
    return this.cache;
  }

  get imageStore(): ImageStore {
    return this.store;
  }

  get stateDir(): string {
    return this.env.stateDir;
  }

  get pull(): BuildEnvironment["pull"] {
    return this.env.pull;
  }

  private missed = false;

  /** A step missed the cache: onCacheMiss, the first time. */
  cacheMissed(): void {
    if (this.missed) return;
    this.missed = true;
    this.env.onCacheMiss?.();
  }

  /** The layer folders of a state, top-most first, unpacked when needed. */
  async lowerdirs(layers: Layer[]): Promise<string[]> {
    // Layers unpacked already are found with a synchronous stat each (a cached build asks for every one).
    for (const l of layers) {
      if (this.layerDirCache.has(l.diffId)) continue;
      const dir = this.store.layers.dirOf(l.diffId);
      if (existsSync(dir)) this.layerDirCache.set(l.diffId, dir);
    }
    const missing = layers.filter((l) => !this.layerDirCache.has(l.diffId));
    if (missing.length > 0) {
      const fake = {
        id: "sha256:build",
        manifest: { layers: missing.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })) },
        image: { rootfs: { diff_ids: missing.map((l) => l.diffId) } },
      } as unknown as ImageRecord;
      const dirs = (await this.store.layerDirs(fake)).reverse();
      missing.forEach((l, i) => this.layerDirCache.set(l.diffId, dirs[i]!));
    }
    return layers.map((l) => this.layerDirCache.get(l.diffId)!).reverse();
  }

  /** A view of the state's filesystem; `withOpaque` reads opaque markers (for reading content out of it). */
  async view(layers: Layer[], withOpaque = false): Promise<LayeredFs> {
    const dirs = await this.lowerdirs(layers);
    const { LayeredFs } = await stepWork();
    if (!withOpaque) return new LayeredFs(dirs);
    const opaque: Array<Set<string>> = [];
    for (const d of dirs) {
      let set = this.opaqueCache.get(d);
      if (!set) {
        const { opaqueDirs } = await import("./upper-diff.js");
        set = new Set([...(await opaqueDirs(d))].map((p) => `/${p}`));
        this.opaqueCache.set(d, set);
      }
      opaque.push(set);
    }
    return new LayeredFs(dirs, opaque);
  }

  /**
   * Stores a layer of `entries`: its tar as a blob, and its folder written in
   * the same pass when the entries allow it (layer-folder.ts), else unpacked
   * from the tar by the store.
   */
  async storeLayer(entries: LayerEntry[]): Promise<Layer> {
    const { canWriteFolder, LayerFolderWriter, layerTar } = await stepWork();
    if (!canWriteFolder(entries)) return this.storeLayerTar(() => layerTar(entries));
    let blob: { digest: string; size: number } | undefined;
    const layer = await this.store.layers.create(async (dir) => {
      const writer = new LayerFolderWriter(dir);
      try {
        blob = await this.store.writeBlob(layerTar(entries, writer));
      } finally {
        writer.close();
      }
      writer.finish();
      return blob.digest;
    });
    this.layerDirCache.set(blob!.digest, layer.dir);
    return { digest: blob!.digest, diffId: blob!.digest, size: blob!.size, mediaType: MediaTypes.ociLayer };
  }

  /** Writes a layer tar into the store and unpacks it. */
  async storeLayerTar(tar: () => Readable): Promise<Layer> {
    const blob = await this.store.writeBlob(tar());
    const unpacked = await this.store.layers.unpack(() => createReadStream(this.store.blobPath(blob.digest)), `build layer ${blob.digest}`, blob.digest);
    this.layerDirCache.set(blob.digest, unpacked.dir);
    return { digest: blob.digest, diffId: blob.digest, size: blob.size, mediaType: MediaTypes.ociLayer };
  }
}

/** One build: the plan, the request, the progress numbering. */
class BuildRun {
  private readonly total: number;
  private readonly numbers = new Map<PlannedStep | PlannedStage, number>();
  /** The build context as a source (made, with its module, by the first step that reads it). */
  private contextFs?: ContextFs;
  private readonly ignore: IgnoreRules | undefined;
  /** The .dockerignore's file and text ("" without one), part of the memo key of a step reading the context. */
  private readonly ignoreId: string;
  /** Remembered content digests, one set per context folder read by this build. */
  private readonly digests = new Map<string, ContentDigests>();

  constructor(
    private readonly builder: Builder,
    private readonly req: BuildRequest,
    private readonly plan: BuildPlan,
    private readonly file: string,
    private readonly tmpPath: string,
    private readonly onProgress: (e: BuildProgress) => void,
    /** Base images the ENV pre-pass found in the store (used again unless --pull asks for a fresh look). */
    private readonly baseRecords = new Map<string, ImageRecord>(),
  ) {
    let n = 0;
    for (const level of plan.levels)
      for (const i of level) {
        const stage = plan.stages[i]!;
        this.numbers.set(stage, ++n);
        for (const s of stage.steps) this.numbers.set(s, ++n);
      }
    this.total = n;
    const ignore = contextIgnore(req);
    this.ignoreId = ignore ? `${ignore.file}\n${ignore.text}` : "";
    this.ignore = ignore?.rules;
  }

  private async context(): Promise<ContextFs> {
    if (!this.contextFs) {
      const { ContextFs } = await stepWork();
      this.contextFs ??= new ContextFs(this.req.context, this.ignore, undefined, this.digestsOf(this.req.context));
    }
    return this.contextFs;
  }

  private digestsOf(folder: string): ContentDigests {
    const root = resolvePath(folder);
    let d = this.digests.get(root);
    if (!d) {
      d = new ContentDigests(this.builder.stepCache.root, root);
      this.digests.set(root, d);
    }
    return d;
  }

  saveDigests(): void {
    for (const d of this.digests.values()) d.save();
  }

  private tmpMade = false;

  /** The build's temporary folder, made on first use. */
  private get tmpDir(): string {
    if (!this.tmpMade) {
      mkdirSync(this.tmpPath, { recursive: true, mode: 0o700 });
      this.tmpMade = true;
    }
    return this.tmpPath;
  }

  removeTmp(): void {
    if (this.tmpMade) rmSync(this.tmpPath, { recursive: true, force: true });
  }

  /** The build network, made (and its module loaded) by the first RUN that needs it. */
  private network?: Promise<BuildNetwork>;
  /** Removals of finished build containers, awaited at the end of the build: each gives its error or undefined. */
  private readonly removals: Array<Promise<unknown>> = [];

  private buildNamespace(): Promise<BuildNamespace> {
    this.network ??= import("./build-network.js").then(({ BuildNetwork }) => new BuildNetwork(this.builder.stateDir, this.tmpDir, this.req.extraHosts));
    return this.network.then((n) => n.namespace());
  }

  async closeNetwork(): Promise<void> {
    if (this.network) await (await this.network).close();
  }

  /** Waits for every build container's removal; the first failure, if any. */
  async removeContainers(): Promise<unknown> {
    return (await Promise.all(this.removals)).find((e) => e !== undefined);
  }

  private stageName(stage: PlannedStage): string {
    return stage.name ?? `stage-${stage.index}`;
  }

  private async base(stage: PlannedStage, states: Map<number, StageState>): Promise<StageState> {
    const b = stage.base;
    if (b.kind === "scratch") return { layers: [], config: {}, history: [], key: stepKey("scratch", {}), created: new Date(0).toISOString() };
    if (b.kind === "stage") return structuredClone(states.get(b.index)!);
    const record = await this.image(b.ref, stage.steps[0]?.instruction.line ?? 0);
    return {
      layers: record.manifest.layers.map((l, i) => ({ digest: l.digest, diffId: record.image.rootfs.diff_ids[i]!, size: l.size, mediaType: l.mediaType })),
      config: structuredClone(record.image.config ?? {}),
      history: structuredClone(record.image.history ?? []),
      key: stepKey("image", record.id),
      created: record.created ?? new Date(0).toISOString(),
    };
  }

  /** An image from the store; pulled first when asked (--pull) or missing and a pull() is wired. */
  private async image(ref: string, line: number): Promise<ImageRecord> {
    const store = this.builder.imageStore;
    const pull = this.builder.pull;
    if (this.req.pull && pull) await pull(ref);
    let record = (this.req.pull && pull ? undefined : this.baseRecords.get(ref)) ?? (await store.resolve(ref));
    if (!record && pull && !this.req.pull) {
      await pull(ref);
      record = await store.resolve(ref);
    }
    if (!record) {
      throw new NotFoundError(`${this.file}${line ? `:${line}` : ""}: image ${JSON.stringify(ref)} is not in the local image store`, {
        hint: `import it (\`stack image import FILE ${ref}\`) or pull it first; \`stack images\` lists what is there`,
      });
    }
    return record;
  }

  async buildStage(stage: PlannedStage, states: Map<number, StageState>): Promise<StageState> {
    const name = this.stageName(stage);
    const started = Date.now();
    const fromText = `FROM ${stage.base.kind === "image" ? stage.base.ref : stage.base.kind === "scratch" ? "scratch" : this.stageName(this.plan.stages[stage.base.index]!)}${stage.name ? ` AS ${stage.name}` : ""}`;
    const n0 = this.numbers.get(stage)!;
    this.onProgress({ type: "step", stage: name, n: n0, total: this.total, text: fromText, status: "running" });
    let state = await this.base(stage, states);
    this.onProgress({ type: "step", stage: name, n: n0, total: this.total, text: fromText, status: "done", ms: Date.now() - started });

    // The base image's ONBUILD triggers run first, then are dropped from the config.
    const triggers = state.config.OnBuild ?? [];
    if (triggers.length > 0) {
      state.config.OnBuild = null;
      for (const trigger of triggers) {
        const planned = planBuild(loadDockerfile(`FROM scratch\n${trigger}\n`, `${this.file} (ONBUILD ${trigger})`).instructions, { buildArgs: {}, platform: { os: "linux", architecture: ARCH[process.arch] ?? process.arch } });
        for (const step of planned.stages[0]!.steps) state = await this.step(stage, step, state, states, n0, `ONBUILD ${describeInstruction(step.expanded)}`);
      }
    }
    let cmdSet = false;
    for (const step of stage.steps) {
      if (step.expanded.kind === "cmd") cmdSet = true;
      state = await this.step(stage, step, state, states, this.numbers.get(step)!);
      // Like Docker: an ENTRYPOINT resets the CMD inherited from the base unless this stage sets one.
      if (step.expanded.kind === "entrypoint" && !cmdSet) state.config.Cmd = null;
    }
    return state;
  }

  private async step(stage: PlannedStage, step: PlannedStep, state: StageState, states: Map<number, StageState>, n: number, label?: string): Promise<StageState> {
    const ins = step.expanded;
    const where = `${this.file}:${ins.line}`;
    const text = label ?? describeInstruction(ins);
    const stageName = this.stageName(stage);
    const started = Date.now();
    this.onProgress({ type: "step", stage: stageName, n, total: this.total, text, status: "running" });
    const done = (cached: boolean) => this.onProgress({ type: "step", stage: stageName, n, total: this.total, text, status: cached ? "cached" : "done", ms: Date.now() - started });

    const next = structuredClone(state);
    const history = (created: string, empty: boolean) => next.history.push({ created, created_by: text, comment: "buildkit.dockerfile.v0", ...(empty ? { empty_layer: true } : {}) });
    const cache = this.builder.stepCache;
    // A step with a record: its layer (if any) joins the image.
    const useRecord = (key: string, rec: StepRecord) => {
      next.key = key;
      next.created = rec.created;
      if (rec.layer) next.layers.push(rec.layer);
      history(rec.created, !rec.layer);
    };
    const lookup = async (key: string): Promise<StepRecord | undefined> => {
      if (this.req.noCache) return undefined;
      const rec = cache.get(key);
      // The recorded layer must still be in the store (an image removal may have taken it).
      if (rec?.layer && !existsSync(this.builder.imageStore.blobPath(rec.layer.digest))) return undefined;
      return rec;
    };
    const fresh = (key: string, layer?: Layer) => {
      const rec: StepRecord = { created: new Date().toISOString(), ...(layer ? { layer } : {}) };
      cache.put(key, rec);
      useRecord(key, rec);
    };

    switch (ins.kind) {
      case "arg": {
        next.key = stepKey(state.key, { arg: ins.args });
        done(true);
        return next;
      }
      case "run": {
        const { key, mounts } = await this.runKey(state, step, where, states);
        const rec = await lookup(key);
        if (rec) {
          useRecord(key, rec);
          done(true);
          return next;
        }
        this.builder.cacheMissed();
        const layer = await this.execRun(state, step, mounts, where, `step ${n}/${this.total} (${where}) ${text}`, stageName, n);
        fresh(key, layer);
        done(false);
        return next;
      }
      case "copy":
      case "add": {
        const copyIns = { ...ins, line: 0, endLine: 0 };
        // A step reading the build context whose memo still holds is confirmed without being planned (source-memo.ts).
        const memoKey = this.memoKeyOf(ins, copyIns, state);
        const memos = this.builder.sourceMemos;
        if (memoKey !== undefined && !this.req.noCache) {
          const known = memos.check(memoKey, this.req.context);
          const rec = known !== undefined ? await lookup(known) : undefined;
          if (known !== undefined && rec) {
            useRecord(known, rec);
            done(true);
            return next;
          }
        }
        const image = await this.builder.view(state.layers);
        const observer = memoKey !== undefined ? new SourceObserver(Date.now()) : undefined;
        const copy = await this.planCopyStep(ins, state, image, states, where, observer);
        const key = stepKey(state.key, { copy: copyIns, chown: copy.chownResolved }, copy.plan.digest);
        if (memoKey !== undefined) memos.save(memoKey, this.req.context, key, observer!);
        const rec = await lookup(key);
        if (rec) {
          useRecord(key, rec);
          done(true);
          return next;
        }
        this.builder.cacheMissed();
        const { copyLayerTar } = await stepWork();
        const layer = copy.plan.archives.length > 0 ? await this.builder.storeLayerTar(() => copyLayerTar(copy.plan)) : await this.builder.storeLayer(copy.plan.entries);
        fresh(key, layer);
        done(false);
        return next;
      }
      case "workdir": {
        next.config = applyInstruction(next.config, ins, where).config;
        const key = stepKey(state.key, { workdir: next.config.WorkingDir });
        const rec = await lookup(key);
        if (rec) {
          useRecord(key, rec);
          done(true);
          return next;
        }
        // WORKDIR makes the folder when the image lacks it, as Docker does.
        this.builder.cacheMissed();
        const image = await this.builder.view(state.layers);
        const dir = next.config.WorkingDir ?? "/";
        const resolved = image.resolve(dir);
        let layer: Layer | undefined;
        if (!image.lstat(resolved)) {
          const parts = resolved.split("/").filter(Boolean);
          const entries: LayerEntry[] = [];
          for (let i = 1; i <= parts.length; i++) {
            const p = parts.slice(0, i).join("/");
            const e = image.lstat(`/${p}`);
            entries.push(e?.stat.isDirectory() ? { path: p, type: "directory", mode: e.stat.mode & 0o7777, uid: e.stat.uid, gid: e.stat.gid, mtime: e.stat.mtime } : { path: p, type: "directory", mode: 0o755, uid: 0, gid: 0, mtime: new Date(0) });
          }
          layer = await this.builder.storeLayer(entries);
        }
        fresh(key, layer);
        done(false);
        return next;
      }
      case "from":
        throw new InvalidInputError(`${where}: FROM inside a stage`, { hint: "this is a bug in the plan" });
      default: {
        const applied = applyInstruction(next.config, ins, where);
        next.config = applied.config;
        if (applied.author !== undefined) next.author = applied.author;
        const key = stepKey(state.key, { meta: { ...ins, line: 0, endLine: 0 } });
        const rec = (await lookup(key)) ?? (() => {
          const r = { created: new Date().toISOString() };
          cache.put(key, r);
          return r;
        })();
        useRecord(key, rec);
        done(true);
        return next;
      }
    }
  }

  /** The source a `--from` names: a stage, an additional context, or an image. */
  private async sourceOf(from: string, states: Map<number, StageState>, where: string): Promise<{ fs: SourceFs; key: string; fromContext: boolean }> {
    const { ContextFs, LayeredSource } = await stepWork();
    const byName = this.plan.stages.find((s) => s.name === from.toLowerCase()) ?? (/^\d+$/.test(from) ? this.plan.stages[Number(from)] : undefined);
    if (byName) {
      const st = states.get(byName.index);
      if (!st) throw new InvalidInputError(`${where}: stage ${JSON.stringify(from)} is not built before this step`, { hint: "a stage can only read stages above it" });
      return { fs: new LayeredSource(await this.builder.view(st.layers, true), `stage ${from}`), key: st.key, fromContext: false };
    }
    const extra = this.req.additionalContexts[from];
    if (extra !== undefined) {
      const dir = isAbsolute(extra) ? extra : resolvePath(this.req.context, extra);
      return { fs: new ContextFs(dir, undefined, `context ${from}`, this.digestsOf(dir)), key: "", fromContext: true };
    }
    const record = await this.image(from, 0);
    const layers = record.manifest.layers.map((l, i) => ({ digest: l.digest, diffId: record.image.rootfs.diff_ids[i]!, size: l.size, mediaType: l.mediaType }));
    return { fs: new LayeredSource(await this.builder.view(layers, true), `image ${from}`), key: record.id, fromContext: false };
  }

  /**
   * The memo key of a COPY/ADD that reads the build context (none for --from
   * and URLs): everything its plan depends on besides what it observes there.
   */
  private memoKeyOf(ins: Extract<Instruction, { kind: "copy" | "add" }>, copyIns: unknown, state: StageState): string | undefined {
    if (ins.kind === "copy" && ins.from !== undefined) return undefined;
    if (ins.kind === "add" && ins.sources.some(isUrl)) return undefined;
    return SourceMemos.key(["copy", state.key, stableJson(copyIns), this.req.context, this.ignoreId]);
  }

  private async planCopyStep(ins: Extract<Instruction, { kind: "copy" | "add" }>, state: StageState, image: LayeredFs, states: Map<number, StageState>, where: string, observer?: SourceObserver): Promise<{ plan: CopyPlan; chownResolved?: { uid: number; gid: number } }> {
    const { parseChmod, parseChown, planCopy } = await stepWork();
    const context = await this.context();
    const source = ins.kind === "copy" && ins.from !== undefined ? await this.sourceOf(ins.from, states, where) : { fs: context as SourceFs, key: "", fromContext: true };
    const chown = ins.chown !== undefined ? parseChown(ins.chown, image, where) : undefined;
    const chmod = ins.chmod !== undefined ? parseChmod(ins.chmod, where) : undefined;
    let downloads: Map<string, { content: Buffer; name: string; mtime: Date }> | undefined;
    if (ins.kind === "add") {
      for (const s of ins.sources.filter(isUrl)) {
        downloads ??= new Map();
        downloads.set(s, await download(s, ins.checksum, where));
      }
    }
    // planCopy is synchronous: no other step's plan runs while the observer is set.
    if (observer && source.fs === context) context.observer = observer;
    let plan: CopyPlan;
    try {
      plan = planCopy({
        kind: ins.kind,
        sources: ins.sources,
        dest: ins.dest,
        workdir: state.config.WorkingDir || "/",
        heredocs: ins.heredocs,
        ...(chown ? { chown } : {}),
        ...(chmod !== undefined ? { chmod } : {}),
        exclude: ins.exclude,
        parents: ins.parents,
        from: source.fs,
        fromContext: source.fromContext,
        image,
        unpackArchives: ins.kind === "add" && (ins.unpack ?? true) && source.fromContext,
        ...(downloads ? { downloads } : {}),
        where,
      });
    } finally {
      context.observer = undefined;
    }
    if (source.key) plan.digest = createHash("sha256").update(`${plan.digest}\0${source.key}`).digest("hex");
    return { plan, ...(chown ? { chownResolved: chown } : {}) };
  }

  private async runKey(state: StageState, step: PlannedStep, where: string, states: Map<number, StageState>) {
    const ins = step.expanded as Extract<Instruction, { kind: "run" }>;
    const mounts = ins.mounts.map((m) => parseRunMount(m, where));
    // What the step reads through bind mounts counts in its key; cache and secret content does not (as in Docker).
    const reads: string[] = [];
    for (const m of mounts) {
      if (m.type !== "bind") continue;
      if (m.from !== undefined) reads.push((await this.sourceOf(m.from, states, where)).key + m.source);
      else {
        const { LayeredFs, planCopy } = await stepWork();
        const digest = planCopy({ kind: "copy", sources: [m.source], dest: "/x/", workdir: "/", heredocs: [], exclude: [], parents: false, from: await this.context(), fromContext: true, image: new LayeredFs([]), unpackArchives: false, where }).digest;
        reads.push(digest);
      }
    }
    const network = ins.network ?? this.req.network;
    const key = stepKey(state.key, { run: { command: ins.command, heredocs: ins.heredocs, mounts: ins.mounts, network, security: ins.security }, env: step.runEnv ?? {}, config: { user: state.config.User, workdir: state.config.WorkingDir, shell: state.config.Shell, env: state.config.Env } }, reads.join(","));
    return { key, mounts };
  }

  private async execRun(state: StageState, step: PlannedStep, mounts: ReturnType<typeof parseRunMount>[], where: string, stepLabel: string, stageName: string, n: number): Promise<Layer | undefined> {
    const ins = step.expanded as Extract<Instruction, { kind: "run" }>;
    const builder = this.builder;
    let argv = argvOf(ins.command, state.config.Shell);
    // A RUN heredoc: the body is the script (`RUN <<EOF`), or the file a command reads (`RUN python3 <<EOF`).
    const stepDir = join(this.tmpDir, `step-${n}-${randomBytes(3).toString("hex")}`);
    mkdirSync(stepDir, { recursive: true });
    const binds: Array<{ source: string; target: string; readOnly: boolean }> = [];
    const tmpfs: Array<{ target: string; size?: number }> = [];
    if (ins.heredocs.length > 0) {
      ins.heredocs.forEach((h, i) => {
        const f = join(stepDir, `heredoc-${i}`);
        writeFileSync(f, h.content, { mode: 0o755 });
        binds.push({ source: f, target: `/dev/.stack-heredoc-${i}`, readOnly: true });
      });
      if (ins.command.form === "shell") {
        const first = ins.heredocs[0]!;
        const cmd = ins.command.command;
        const firstLine = cmd.split("\n")[0]!.trim();
        const script = firstLine.replace(/\d?<<-?["']?\w+["']?/, "").trim();
        if (script === "" && ins.heredocs.length === 1) {
          // RUN <<EOF …: the body is a script; a #! line picks the interpreter.
          argv = first.content.startsWith("#!") ? ["/dev/.stack-heredoc-0"] : [...(state.config.Shell ?? ["/bin/sh", "-c"]).slice(0, -1), "/dev/.stack-heredoc-0"];
        } else {
          let i = 0;
          const rewritten = firstLine.replace(/(\d?)<<-?["']?(\w+)["']?/g, (_m, fd: string) => `${fd}< /dev/.stack-heredoc-${i++}`);
          argv = [...(state.config.Shell ?? ["/bin/sh", "-c"]), rewritten];
        }
      }
    }
    let handedOver = false;
    try {
      for (const m of mounts) {
        if (m.type === "bind") {
          if (m.from !== undefined) {
            throw new UnsupportedError(`${where}: --mount=type=bind,from=${m.from} is not supported yet`, { hint: "COPY --from the files into the stage instead" });
          }
          const context = await this.context();
          const path = context.resolve(m.source);
          const e = context.lstat(path);
          if (!e) throw new NotFoundError(`${where}: bind mount source ${JSON.stringify(m.source)} not found in the build context`);
          // Writes to a bind mount are thrown away in Docker: the step gets a copy when rw is asked.
          if (m.readWrite) {
            const copy = join(stepDir, `bind-${binds.length}`);
            const { execFile } = await import("node:child_process");
            await promisify(execFile)("cp", ["-a", e.hostPath, copy]);
            binds.push({ source: copy, target: m.target, readOnly: false });
          } else binds.push({ source: e.hostPath, target: m.target, readOnly: true });
        } else if (m.type === "cache") {
          const dir = builder.stepCache.mountDir(m.id);
          if (!existsSync(dir)) {
            mkdirSync(dir, { recursive: true });
            chmodSync(dir, m.mode);
            chownSync(dir, m.uid, m.gid);
          }
          binds.push({ source: dir, target: m.target, readOnly: m.readOnly });
        } else if (m.type === "tmpfs") tmpfs.push({ target: m.target, ...(m.size !== undefined ? { size: m.size } : {}) });
        else if (m.type === "secret") {
          const secret = this.req.secrets.find((s) => s.id === m.id);
          if (!secret) {
            if (m.required) throw new NotFoundError(`${where}: secret ${JSON.stringify(m.id)} is required but not given`, { hint: "list it under build.secrets (and top-level secrets:)" });
            continue;
          }
          const f = join(stepDir, `secret-${binds.length}`);
          writeFileSync(f, "file" in secret ? readFileSync(secret.file) : secret.value, { mode: m.mode });
          chownSync(f, m.uid, m.gid);
          binds.push({ source: f, target: m.target, readOnly: true });
        }
      }
      const networkMode = ins.network ?? this.req.network;
      let ns: BuildNamespace | { network: { mode: "host" | "none" }; etcFiles?: { resolvConf: string; hosts: string } };
      if (networkMode === "host") ns = { network: { mode: "host" }, etcFiles: { resolvConf: "/etc/resolv.conf", hosts: "/etc/hosts" } };
      else if (networkMode === "none") ns = { network: { mode: "none" } };
      else if (networkMode === "default") ns = await this.buildNamespace();
      else throw new InvalidInputError(`${where}: RUN --network=${networkMode} is not one of default, host, none`);
      const lowerdirs = await builder.lowerdirs(state.layers);
      const runtime = await builder.runtime();
      const { runBuildContainer } = await import("./run-step.js");
      const result = await runBuildContainer(
        runtime,
        {
          argv,
          env: step.runEnv ?? {},
          config: state.config,
          lowerdirs,
          binds,
          tmpfs,
          network: ns.network,
          ...(ns.etcFiles ? { etcFiles: ns.etcFiles } : {}),
          ...(this.req.shmSize !== undefined ? { shmSize: this.req.shmSize } : {}),
          emptyDir: join(this.tmpDir, "empty"),
        },
        (line) => this.onProgress({ type: "output", stage: stageName, n, line }),
      );
      try {
        if (result.exitCode !== 0) throw new BuildStepError(stepLabel, result.exitCode, result.lastLines);
        const { upperDiff } = await import("./upper-diff.js");
        const { LayeredFs } = await stepWork();
        const entries = await upperDiff({ upper: result.upper, lower: new LayeredFs(lowerdirs), mountPoints: [...result.mountPoints, ...binds.map((b) => b.target)] });
        if (entries.length === 0) return undefined;
        return await builder.storeLayer(entries);
      } finally {
        // The container (and then the step's files) go while the next steps run.
        const removal = runtime.remove(result.handle).then(() => rmSync(stepDir, { recursive: true, force: true }));
        this.removals.push(removal.then(() => undefined, (e: unknown) => e));
        handedOver = true;
      }
    } finally {
      if (!handedOver) rmSync(stepDir, { recursive: true, force: true });
    }
  }
}

async function download(url: string, checksum: string | undefined, where: string): Promise<{ content: Buffer; name: string; mtime: Date }> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new SystemError(`${where}: cannot fetch ${url}: ${(e as Error).message}`, { cause: e, hint: "check the URL and the network" });
  }
  if (!res.ok) throw new SystemError(`${where}: fetching ${url} answered HTTP ${res.status}`, { hint: "check the URL" });
  const content = Buffer.from(await res.arrayBuffer());
  if (checksum !== undefined) {
    const want = checksum.replace(/^sha256:/, "");
    const got = createHash("sha256").update(content).digest("hex");
    if (got !== want) throw new InvalidInputError(`${where}: ${url} has digest sha256:${got}, not ${checksum}`, { hint: "update --checksum or the URL" });
  }
  const modified = res.headers.get("last-modified");
  const name = posix.basename(new URL(url).pathname) || "index.html";
  return { content, name, mtime: modified ? new Date(modified) : new Date(0) };
}

/** Builds one image (the engine's and `stack build`'s entry point). */
export async function buildImage(env: BuildEnvironment, req: BuildRequest, onProgress?: (e: BuildProgress) => void): Promise<BuildResult> {
  return new Builder(env).build(req, onProgress);
}
