// The container's argv from the service and the image, by Docker's rules:
// a service `entrypoint` replaces the image's Entrypoint AND drops the image's
// Cmd; a service `command` replaces the image's Cmd. Strings are split into
// words like a shell would (no shell runs them), as Compose does.
import { InvalidInputError } from "../errors.js";
import { splitShellWords } from "../export/kubernetes/shell-words.js";
import type { ServiceModel } from "../schema/model.js";
import type { ImageConfig } from "./image-config.js";

function words(value: string | string[], path: string): string[] {
  return typeof value === "string" ? splitShellWords(value, path) : value;
}

export function containerArgs(service: Pick<ServiceModel, "name" | "command" | "entrypoint">, image: ImageConfig): string[] {
  const base = `services.${service.name}`;
  let entrypoint: string[];
  let cmd: string[];
  if (service.entrypoint !== undefined) {
    entrypoint = words(service.entrypoint, `${base}.entrypoint`);
    cmd = service.command !== undefined ? words(service.command, `${base}.command`) : [];
  } else {
    entrypoint = image.Entrypoint ?? [];
    cmd = service.command !== undefined ? words(service.command, `${base}.command`) : (image.Cmd ?? []);
  }
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new InvalidInputError(`${base}: no command to run: the service sets no command or entrypoint and the image has none`, {
      hint: `add \`command:\` to services.${service.name}`,
    });
  }
  return args;
}
