import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import { contextFrom } from "../context.js";

const serviceTypes = ["ClusterIP", "NodePort", "LoadBalancer"] as const;

interface KubernetesFlags {
  output: string;
  namespace?: string;
  imageRegistry?: string;
  serviceType: string;
  check?: boolean;
  push?: boolean;
}

export function registerExport(program: Command): void {
  const exportCommand = program.command("export").description("Translate the stack for another platform");
  exportCommand
    .command("kubernetes")
    .description("Write Kubernetes manifests for the stack (warnings on stderr list what cannot be translated)")
    .option("-o, --output <dir>", "directory for one file per object, or - for one YAML stream on stdout", "-")
    .option("--namespace <ns>", "namespace of every object (a Namespace object is included)")
    .option("--image-registry <prefix>", "registry HOST[:PORT]/PATH that the images of built services are referenced under")
    .option("--service-type <type>", "type of the extra <service>-public Service for published ports: ClusterIP (none), NodePort or LoadBalancer", "ClusterIP")
    .option("--check", "validate every manifest against the Kubernetes API schemas before writing")
    .option("--push", "push built images to --image-registry and reference them by digest")
    .action(async (flags: KubernetesFlags, command: Command) => {
      if (!(serviceTypes as readonly string[]).includes(flags.serviceType)) {
        throw new InvalidInputError(`--service-type: "${flags.serviceType}" is not a Service type`, { hint: `use one of ${serviceTypes.join(", ")}` });
      }
      if (flags.push && !flags.imageRegistry) {
        throw new InvalidInputError("--push needs --image-registry: the registry the cluster pulls the built images from", { hint: "for example --push --image-registry registry.example.com/team" });
      }
      const ctx = contextFrom(command);
      const { loadProject } = await import("../project.js");
      const { model } = await loadProject(ctx);
      const { readFileSync, mkdirSync, writeFileSync } = await import("node:fs");
      const { join, resolve } = await import("node:path");
      const { exportKubernetes } = await import("../../export/kubernetes/translate.js");
      const pushedDigests: Record<string, string> = {};
      if (flags.push) {
        // Built images go to the registry first; the manifests then pin them by digest.
        const { builtImages, registryImageName } = await import("../../export/kubernetes/workloads.js");
        const { pushWithProgress } = await import("./image-registry.js");
        for (const name of [...builtImages(model)].sort()) {
          const target = registryImageName(name, flags.imageRegistry);
          const pushed = await pushWithProgress({ ...ctx, stdout: ctx.stderr }, name, { quiet: ctx.globals.progress === "quiet", target });
          pushedDigests[target] = pushed.digest;
        }
      }
      const result = exportKubernetes(
        model,
        { namespace: flags.namespace, imageRegistry: flags.imageRegistry, serviceType: flags.serviceType as (typeof serviceTypes)[number], pushedDigests },
        {
          readFile: (path) => {
            try {
              return readFileSync(path);
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
              throw e;
            }
          },
          env: ctx.env,
        },
      );
      for (const w of result.warnings) ctx.warn(w);
      if (flags.check) {
        const { checkManifests, kubernetesVersion, schemaPackage } = await import("../../export/kubernetes/check.js");
        const problems = await checkManifests(result.objects);
        if (problems.length > 0) {
          throw new InvalidInputError(`the manifests do not validate against the Kubernetes ${kubernetesVersion} API schemas (${schemaPackage})`, {
            problems,
            hint: "a value of the stack file is not accepted by Kubernetes; fix it in the stack file, or report a bug if the value is right",
          });
        }
        ctx.stderr.write(`checked ${result.objects.length} objects against the Kubernetes ${kubernetesVersion} API schemas (${schemaPackage}): all valid\n`);
      }
      const render = await import("../../export/kubernetes/render.js");
      if (flags.output === "-") {
        ctx.stdout.write(render.renderManifests(result.objects));
        return;
      }
      const dir = resolve(ctx.cwd, flags.output);
      mkdirSync(dir, { recursive: true });
      const files = render.manifestFiles(result.objects);
      for (const f of files) writeFileSync(join(dir, f.name), f.content);
      ctx.stderr.write(`wrote ${files.length} manifests to ${dir}\n`);
    });
}
