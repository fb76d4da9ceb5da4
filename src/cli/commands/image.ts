// `stack image import|ls|rm|inspect` and `stack images`: the local image
// store. Actions import the store lazily.
import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import { contextFrom } from "../context.js";
import { registerImageRegistry } from "./image-registry.js";
import { adds } from "./only.js";

interface ListOptions {
  format: string;
  quiet?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function openStore(command: Command) {
  const ctx = contextFrom(command);
  const { ImageStore } = await import("../../image/store/index.js");
  return { ctx, store: new ImageStore(ctx.stateDir, { warn: (m) => ctx.warn(m) }) };
}

async function listImages(opts: ListOptions, command: Command): Promise<void> {
  if (opts.format !== "table" && opts.format !== "json") {
    throw new InvalidInputError(`--format: ${JSON.stringify(opts.format)} is not an image list format`, { hint: "use table or json" });
  }
  const { ctx, store } = await openStore(command);
  const { imageRows, renderImageTable } = await import("../../image/store/listing.js");
  const rows = imageRows(await store.list(), new Date());
  if (opts.quiet) {
    ctx.stdout.write([...new Set(rows.map((r) => r.id))].map((id) => `${id}\n`).join(""));
  } else if (opts.format === "json") {
    ctx.stdout.write(rows.map((r) => JSON.stringify({ Repository: r.repository, Tag: r.tag, ID: r.id, Digest: r.digest, CreatedAt: r.created, CreatedSince: r.createdSince, Size: r.size })).map((l) => `${l}\n`).join(""));
  } else {
    ctx.stdout.write(renderImageTable(rows));
  }
}

function addListOptions(cmd: Command): Command {
  return cmd
    .option("--format <format>", "table or json (one JSON object per line)", "table")
    .option("-q, --quiet", "print only image IDs")
    .action(listImages);
}

export function registerImage(program: Command, only?: string): void {
  if (adds(only, "images")) addListOptions(program.command("images").description("List local images"));
  if (only !== undefined && only !== "image") return;

  const image = program.command("image").description("Manage local images");
  addListOptions(image.command("ls").alias("list").description("List local images"));
  registerImageRegistry(image);

  image
    .command("import")
    .description("Import a root filesystem tarball (plain, gzip or zstd; - for stdin) as an image, like `docker import`")
    .argument("<file>", "tarball path, or - for stdin")
    .argument("<name>", "NAME[:TAG] of the new image")
    .option("-c, --change <instruction>", "apply a Dockerfile instruction to the config, e.g. 'CMD [\"sh\"]' (repeatable)", collect, [])
    .option("-m, --message <text>", "commit message recorded in the image history")
    .action(async (file: string, name: string, opts: { change: string[]; message?: string }, command: Command) => {
      const { ctx, store } = await openStore(command);
      const { createReadStream } = await import("node:fs");
      const { stat } = await import("node:fs/promises");
      const { resolve } = await import("node:path");
      let input: NodeJS.ReadableStream;
      if (file === "-") {
        input = process.stdin;
      } else {
        const path = resolve(ctx.cwd, file);
        const st = await stat(path).catch(() => undefined);
        if (!st?.isFile()) {
          const { NotFoundError } = await import("../../errors.js");
          throw new NotFoundError(`import: ${JSON.stringify(file)} is not a file`, { hint: "give the path of a rootfs tarball, or - to read it from stdin" });
        }
        input = createReadStream(path);
      }
      const { Readable } = await import("node:stream");
      const record = await store.importRootfs(Readable.from(input), name, { changes: opts.change, ...(opts.message ? { message: opts.message } : {}) });
      ctx.stdout.write(`${record.id}\n`);
    });

  image
    .command("rm")
    .alias("remove")
    .description("Remove images; content no other image uses is deleted")
    .argument("<images...>", "names or IDs")
    .option("-f, --force", "remove an image with several names by ID, or one whose layers are mounted")
    .action(async (refs: string[], opts: { force?: boolean }, command: Command) => {
      const { ctx, store } = await openStore(command);
      const failures: unknown[] = [];
      for (const ref of refs) {
        try {
          for (const line of await store.remove(ref, { force: opts.force })) ctx.stdout.write(`${line}\n`);
        } catch (e) {
          if (refs.length === 1) throw e;
          failures.push(e);
          ctx.stderr.write(`error: ${(e as Error).message}\n`);
        }
      }
      if (failures.length > 0) throw failures[0];
    });

  image
    .command("inspect")
    .description("Show images as JSON")
    .argument("<images...>", "names or IDs")
    .action(async (refs: string[], _opts: unknown, command: Command) => {
      const { ctx, store } = await openStore(command);
      const { inspectView } = await import("../../image/store/listing.js");
      const views = [];
      for (const ref of refs) {
        const record = await store.get(ref);
        const dirs = await Promise.all(record.image.rootfs.diff_ids.map(async (d) => ((await store.layers.has(d)) ? store.layers.dirOf(d) : undefined)));
        views.push(inspectView(record, dirs.every((d) => d !== undefined) ? (dirs as string[]).reverse() : undefined));
      }
      ctx.stdout.write(JSON.stringify(views, null, 2) + "\n");
    });
}
