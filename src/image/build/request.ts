// What a build is asked to do: a Compose `build:` section (or `stack build`
// flags) turned into one plain BuildRequest. Pure: paths are taken from the
// model as they are, nothing is read here.
import { InvalidInputError, UnsupportedError } from "../../errors.js";
import type { ExtraHostModel, ServiceModel, StackModel } from "../../schema/model.js";

/** A secret a RUN can mount (`--mount=type=secret,id=ID`): a file on the host or a value. */
export type BuildSecret = { id: string; file: string } | { id: string; value: string };

export interface BuildRequest {
  /** Absolute context directory. */
  context: string;
  /** Absolute path of the Dockerfile (undefined with `dockerfileInline`). */
  dockerfile?: string;
  dockerfileInline?: string;
  /** Build args; a null value means "take it from the environment" and was resolved by the caller, so only strings here. */
  args: Record<string, string>;
  target?: string;
  /** Labels added to the image config over the Dockerfile's. */
  labels: Record<string, string>;
  /** "default" (isolated namespace with egress), "host" or "none". */
  network: "default" | "host" | "none";
  extraHosts: ExtraHostModel[];
  shmSize?: number;
  noCache: boolean;
  /** Ask the injected pull() for every FROM image, even present ones. */
  pull: boolean;
  /** Names given to the result; at least one. */
  tags: string[];
  /** Named contexts: `COPY --from=NAME` and `FROM NAME` read these directories. */
  additionalContexts: Record<string, string>;
  secrets: BuildSecret[];
}

export interface BuildOverrides {
  noCache?: boolean;
  pull?: boolean;
  args?: Record<string, string>;
}

/** The image name of a service: `image:` when set, else Compose v2's `<project>-<service>`. */
export function imageNameFor(model: Pick<StackModel, "name">, service: Pick<ServiceModel, "name" | "image">): string {
  return service.image ?? `${model.name}-${service.name}`;
}

function networkOf(value: string | undefined, path: string): BuildRequest["network"] {
  if (value === undefined || value === "default" || value === "bridge") return "default";
  if (value === "host" || value === "none") return value;
  throw new UnsupportedError(`${path}: build network ${JSON.stringify(value)} is not supported`, { hint: 'use "default", "host" or "none"' });
}

/** The request for building `service` of `model` (which must have a `build:` section). */
export function buildRequestOf(model: StackModel, service: ServiceModel, overrides: BuildOverrides = {}, env: Record<string, string | undefined> = {}): BuildRequest {
  const build = service.build;
  const path = `services.${service.name}.build`;
  if (!build) throw new InvalidInputError(`services.${service.name} has no build section`, { hint: "add `build: .` (the context folder) to the service" });
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(build.context) || build.context.startsWith("git@")) {
    throw new UnsupportedError(`${path}.context: remote context ${JSON.stringify(build.context)} is not supported`, { hint: "clone the repository and point context at the folder" });
  }
  const args: Record<string, string> = {};
  for (const [k, v] of Object.entries(build.args).sort(([a], [b]) => (a < b ? -1 : 1))) {
    // `args: [NAME]` without a value takes it from the environment, as Compose does; absent there, the ARG keeps its default.
    const value = v ?? env[k];
    if (value !== undefined) args[k] = value;
  }
  Object.assign(args, overrides.args ?? {});
  const secrets: BuildSecret[] = build.secrets.map((ref) => {
    const top = model.secrets[ref.source];
    if (!top) throw new InvalidInputError(`${path}.secrets: secret ${JSON.stringify(ref.source)} is not defined at the top level`, { hint: "declare it under `secrets:` with `file:` or `environment:`" });
    const id = ref.source;
    if (top.file !== undefined) return { id, file: top.file };
    if (top.content !== undefined) return { id, value: top.content };
    if (top.environment !== undefined) {
      const value = env[top.environment];
      if (value === undefined) throw new InvalidInputError(`secrets.${ref.source}.environment: variable ${JSON.stringify(top.environment)} is not set`, { hint: "export it before building" });
      return { id, value };
    }
    throw new UnsupportedError(`secrets.${ref.source}: an external secret cannot be used by a build`, { hint: "give it a file: or environment:" });
  });
  const name = imageNameFor(model, service);
  const tags = [...new Set([name, ...build.tags])];
  const request: BuildRequest = {
    context: build.context,
    args,
    labels: { ...build.labels },
    network: networkOf(build.network, `${path}.network`),
    extraHosts: build.extra_hosts,
    noCache: overrides.noCache ?? build.no_cache,
    pull: overrides.pull ?? build.pull,
    tags,
    additionalContexts: { ...build.additional_contexts },
    secrets,
  };
  if (build.dockerfile_inline !== undefined) request.dockerfileInline = build.dockerfile_inline;
  else request.dockerfile = resolveDockerfile(build.context, build.dockerfile ?? "Dockerfile");
  if (build.target !== undefined) request.target = build.target;
  if (build.shm_size !== undefined) request.shmSize = build.shm_size;
  for (const [k, v] of Object.entries(request.additionalContexts)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) || v.startsWith("docker-image://")) throw new UnsupportedError(`${path}.additional_contexts.${k}: ${JSON.stringify(v)} is not a folder`, { hint: "only local folders are supported as additional contexts" });
  }
  return request;
}

function resolveDockerfile(context: string, dockerfile: string): string {
  if (dockerfile.startsWith("/")) return dockerfile;
  return `${context.replace(/\/+$/, "")}/${dockerfile}`;
}
