// `stack image pull|push|save|load|tag`: the image command's registry and
// archive verbs, registered by image.ts. Actions import the registry client
// lazily. Registry settings come from the environment here, the only place
// that reads it: DOCKER_CONFIG (credentials, as Docker), STACK_CERTS_DIR
// (certs.d, default /etc/stack/certs.d) and STACK_INSECURE_REGISTRIES
// (comma-separated hosts allowed over plain HTTP besides loopback ones).
import type { Command } from "commander";
import { join } from "node:path";
import { InvalidInputError } from "../../errors.js";
import { contextFrom, type CliContext } from "../context.js";

export interface RegistrySettings {
  authFile: string;
  certsDir?: string;
  insecure: string[];
}

export function registrySettings(ctx: CliContext): RegistrySettings {
  const env = ctx.env;
  const configDir = env.DOCKER_CONFIG || join(env.HOME || "/root", ".docker");
  return {
    authFile: join(configDir, "config.json"),
    ...(env.STACK_CERTS_DIR ? { certsDir: env.STACK_CERTS_DIR } : {}),
    insecure: (env.STACK_INSECURE_REGISTRIES ?? "").split(",").map((s) => s.trim()).filter(Boolean),
  };
}

function isTty(stream: NodeJS.WritableStream): boolean {
  return (stream as NodeJS.WriteStream).isTTY === true;
}

/** Pulls one image with progress on stderr-free stdout as `docker pull` prints it; returns the result. */
export async function pullWithProgress(ctx: CliContext, ref: string, options: { platform?: string; quiet?: boolean }) {
  const { pullImage } = await import("../../image/registry/index.js");
  const { createTransferRenderer } = await import("../../image/registry/progress.js");
  const { ImageStore } = await import("../../image/store/index.js");
  const store = new ImageStore(ctx.stateDir, { warn: (m) => ctx.warn(m) });
  const before = await store.resolve(ref).catch(() => undefined);
  const renderer = options.quiet ? undefined : createTransferRenderer("pull", ctx.stdout, isTty(ctx.stdout) && ctx.globals.progress !== "plain");
  const result = await pullImage({
    stateDir: ctx.stateDir,
    store,
    ref,
    ...(options.platform ? { platform: options.platform } : {}),
    ...registrySettings(ctx),
    warn: (m) => ctx.warn(m),
    ...(renderer ? { onProgress: (e) => renderer.update(e) } : {}),
  });
  renderer?.finish();
  const { familiarReference, parseReference } = await import("../../image/reference.js");
  const name = familiarReference(parseReference(result.ref));
  if (!options.quiet) {
    ctx.stdout.write(`Digest: ${result.digest}\n`);
    ctx.stdout.write(before?.id === result.id ? `Status: Image is up to date for ${name}\n` : `Status: Downloaded newer image for ${name}\n`);
  }
  ctx.stdout.write(`${result.ref}\n`);
  return result;
}

export async function pushWithProgress(ctx: CliContext, ref: string, options: { quiet?: boolean; target?: string }) {
  const { pushImage } = await import("../../image/registry/index.js");
  const { createTransferRenderer } = await import("../../image/registry/progress.js");
  const renderer = options.quiet ? undefined : createTransferRenderer("push", ctx.stdout, isTty(ctx.stdout) && ctx.globals.progress !== "plain");
  const result = await pushImage({
    stateDir: ctx.stateDir,
    ref,
    ...(options.target ? { target: options.target } : {}),
    ...registrySettings(ctx),
    ...(renderer ? { onProgress: (e) => renderer.update(e) } : {}),
  });
  renderer?.finish();
  ctx.stdout.write(options.quiet ? `${result.ref}\n` : `${result.ref}: digest: ${result.digest} size: ${result.size}\n`);
  return result;
}

export function registerImageRegistry(image: Command): void {
  image
    .command("pull")
    .description("Pull an image from a registry")
    .argument("<name>", "NAME[:TAG|@DIGEST]")
    .option("--platform <platform>", "OS/ARCH[/VARIANT] to pick from a multi-platform image (default: this machine's)")
    .option("-q, --quiet", "print only the image name")
    .action(async (name: string, opts: { platform?: string; quiet?: boolean }, command: Command) => {
      await pullWithProgress(contextFrom(command), name, opts);
    });

  image
    .command("push")
    .description("Push an image to a registry")
    .argument("<name>", "NAME[:TAG] of a local image")
    .option("-q, --quiet", "print only the pushed reference")
    .action(async (name: string, opts: { quiet?: boolean }, command: Command) => {
      await pushWithProgress(contextFrom(command), name, opts);
    });

  image
    .command("tag")
    .description("Give an image another name")
    .argument("<source>", "name or ID of a local image")
    .argument("<target>", "NAME[:TAG]")
    .action(async (source: string, target: string, _opts: unknown, command: Command) => {
      const ctx = contextFrom(command);
      const { ImageStore } = await import("../../image/store/index.js");
      await new ImageStore(ctx.stateDir).tag(source, target);
    });

  image
    .command("save")
    .description("Save images to a tar archive that docker load and OCI tools read")
    .argument("<images...>", "names or IDs")
    .option("-o, --output <file>", "archive to write")
    .action(async (refs: string[], opts: { output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      if (!opts.output) throw new InvalidInputError("image save: -o FILE is required", { hint: "stack image save -o images.tar IMAGE…" });
      const { resolve } = await import("node:path");
      const { ImageStore } = await import("../../image/store/index.js");
      const { saveImages } = await import("../../image/registry/archive.js");
      await saveImages(new ImageStore(ctx.stateDir), refs, resolve(ctx.cwd, opts.output));
    });

  image
    .command("load")
    .description("Load images from a tar archive (stack image save, docker save, OCI archives; plain, gzip or zstd)")
    .option("-i, --input <file>", "archive to read")
    .option("-q, --quiet", "print nothing")
    .action(async (opts: { input?: string; quiet?: boolean }, command: Command) => {
      const ctx = contextFrom(command);
      if (!opts.input) throw new InvalidInputError("image load: -i FILE is required", { hint: "stack image load -i images.tar" });
      const { resolve } = await import("node:path");
      const { ImageStore } = await import("../../image/store/index.js");
      const { loadArchive } = await import("../../image/registry/archive.js");
      const names = await loadArchive(new ImageStore(ctx.stateDir, { warn: (m) => ctx.warn(m) }), resolve(ctx.cwd, opts.input));
      if (!opts.quiet) for (const n of names) ctx.stdout.write(`Loaded image: ${n}\n`);
    });
}
