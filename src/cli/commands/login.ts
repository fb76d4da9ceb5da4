// `stack login` and `stack logout`: credentials in Docker's config.json
// (`$DOCKER_CONFIG/config.json`, else ~/.docker/config.json), checked against
// the registry before they are stored. Also registers the project verbs
// `stack pull` and `stack push`, so all registry verbs join the CLI in one
// line of commands/index.ts.
import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import { contextFrom } from "../context.js";
import { registerPull } from "./pull.js";
import { registerPush } from "./push.js";
import { adds } from "./only.js";

interface LoginOptions {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

export function registerRegistryVerbs(program: Command, only?: string): void {
  registerLogin(program, only);
  if (adds(only, "pull")) registerPull(program);
  if (adds(only, "push")) registerPush(program);
}

export function registerLogin(program: Command, only?: string): void {
  if (adds(only, "login")) {
    program
      .command("login")
      .description("Log in to a registry (default: Docker Hub); credentials go to Docker's config.json")
      .argument("[server]", "registry host[:port]", "docker.io")
      .option("-u, --username <name>", "user name")
      .option("-p, --password <password>", "password (visible to other users of the machine: prefer --password-stdin)")
      .option("--password-stdin", "read the password from stdin")
      .action(async (server: string, opts: LoginOptions, command: Command) => {
        const ctx = contextFrom(command);
        if (!opts.username) throw new InvalidInputError("login: --username is required", { hint: "stack login -u NAME --password-stdin SERVER < password-file" });
        if (opts.password !== undefined && opts.passwordStdin) throw new InvalidInputError("login: --password and --password-stdin are mutually exclusive", { hint: "use one of them" });
        let password = opts.password;
        if (opts.passwordStdin) {
          const chunks: Buffer[] = [];
          for await (const c of process.stdin) chunks.push(c as Buffer);
          password = Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
        } else if (password !== undefined) {
          ctx.warn("using --password on the command line is insecure; use --password-stdin");
        }
        if (!password) throw new InvalidInputError("login: no password given", { hint: "pass --password-stdin and write the password to stdin" });
        const { authKeyHost } = await import("../../image/registry/auth-config.js");
        const { RegistryClient, storeCredentials } = await import("../../image/registry/index.js");
        const { registrySettings } = await import("./image-registry.js");
        const settings = registrySettings(ctx);
        const host = authKeyHost(server);
        const credentials = { username: opts.username, password };
        const client = new RegistryClient(host, { ...settings, credentials });
        try {
          await client.checkLogin();
        } finally {
          client.close();
        }
        storeCredentials(settings.authFile, host, credentials);
        ctx.stdout.write("Login Succeeded\n");
      });
  }

  if (adds(only, "logout")) {
    program
      .command("logout")
      .description("Forget the credentials of a registry (default: Docker Hub)")
      .argument("[server]", "registry host[:port]", "docker.io")
      .action(async (server: string, _opts: unknown, command: Command) => {
        const ctx = contextFrom(command);
        const { authKeyHost } = await import("../../image/registry/auth-config.js");
        const { removeCredentials } = await import("../../image/registry/index.js");
        const { registrySettings } = await import("./image-registry.js");
        const host = authKeyHost(server);
        const removed = removeCredentials(registrySettings(ctx).authFile, host);
        ctx.stdout.write(removed ? `Removing login credentials for ${host}\n` : `Not logged in to ${host}\n`);
      });
  }
}
