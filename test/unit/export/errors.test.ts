import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InvalidInputError, SystemError } from "../../../src/errors.js";
import { buildProgram } from "../../../src/cli/main.js";
import { checkManifests, kubernetesVersion, schemaPackage } from "../../../src/export/kubernetes/check.js";
import { manifestFiles } from "../../../src/export/kubernetes/render.js";
import { exportKubernetes, type KubeObject, type KubernetesExportOptions } from "../../../src/export/kubernetes/translate.js";
import { stackFrom, type PartialStack } from "./model-factory.js";

const noFiles = { readFile: (p: string): Uint8Array | undefined => { throw new Error(`EACCES: permission denied, open '${p}'`); }, env: {} };

function run(partial: PartialStack, options: Partial<KubernetesExportOptions> = {}) {
  return exportKubernetes(stackFrom(partial), { serviceType: "ClusterIP", ...options }, noFiles);
}

function errorOf(f: () => unknown): InvalidInputError | SystemError {
  try {
    f();
  } catch (e) {
    return e as InvalidInputError;
  }
  throw new Error("expected an error");
}

describe("export errors", () => {
  const cases: Array<{ name: string; partial: PartialStack; options?: Partial<KubernetesExportOptions>; type: Function; message: RegExp; hint?: RegExp }> = [
    { name: "service name with an underscore", partial: { services: { my_db: {} } }, type: InvalidInputError, message: /services\.my_db: "my_db" is not a valid Kubernetes name/, hint: /rename the service to "my-db"/ },
    { name: "uppercase service name", partial: { services: { Web: {} } }, type: InvalidInputError, message: /services\.Web: "Web"/, hint: /"web"/ },
    { name: "unknown x-kubernetes key", partial: { services: { web: { extensions: { "x-kubernetes": { replicas: 2 } } } } }, type: InvalidInputError, message: /services\.web\.x-kubernetes\.replicas: unknown key "replicas"/ },
    { name: "bad workload", partial: { services: { web: { extensions: { "x-kubernetes": { workload: "daemonset" } } } } }, type: InvalidInputError, message: /services\.web\.x-kubernetes\.workload: "daemonset" is not a workload kind/, hint: /deployment, statefulset, job/ },
    { name: "x-kubernetes not a mapping", partial: { extensions: { "x-kubernetes": "yes" }, services: { web: {} } }, type: InvalidInputError, message: /x-kubernetes: "yes" is not a mapping/ },
    {
      name: "bad volume size",
      partial: { services: { web: { volumes: [{ type: "volume", source: "data", target: "/d" }] } }, volumes: { data: {} }, extensions: { "x-kubernetes": { volumes: { data: { size: "lots" } } } } },
      type: InvalidInputError,
      message: /x-kubernetes\.volumes\.data\.size: "lots" is not a storage size/,
    },
    {
      name: "bad access mode",
      partial: { services: { web: {} }, volumes: { data: {} }, extensions: { "x-kubernetes": { volumes: { data: { access_mode: "Shared" } } } } },
      type: InvalidInputError,
      message: /access_mode: "Shared" is not an access mode/,
    },
    {
      name: "config file that exists but cannot be read",
      partial: { services: { web: { configs: [{ source: "conf", target: "/etc/app.conf" }] } }, configs: { conf: { file: "/srv/demo/missing.conf" } } },
      type: SystemError,
      message: /configs\.conf\.file: cannot read "\/srv\/demo\/missing\.conf": EACCES/,
    },
    {
      name: "secret from an unset variable",
      partial: { services: { web: { secrets: [{ source: "token", target: "/run/secrets/token" }] } }, secrets: { token: { environment: "TOKEN" } } },
      type: InvalidInputError,
      message: /secrets\.token\.environment: variable "TOKEN" is not set/,
    },
    { name: "bad namespace", partial: { services: { web: {} } }, options: { namespace: "Prod_1" }, type: InvalidInputError, message: /--namespace: "Prod_1" is not a valid namespace name/ },
    { name: "bad registry", partial: { services: { web: {} } }, options: { imageRegistry: "https://registry" }, type: InvalidInputError, message: /--image-registry: "https:\/\/registry" is not a registry prefix/ },
    {
      name: "two objects with one name",
      partial: { services: { web: { env_file: [{ path: "/srv/demo/.env", required: true }], environment: { A: "1" }, configs: [{ source: "web-env", target: "/x" }] } }, configs: { "web-env": { content: "x" } } },
      type: InvalidInputError,
      message: /two objects would be named ConfigMap\/web-env/,
    },
    {
      name: "two volumes of a service with one Kubernetes name",
      partial: { services: { web: { volumes: [{ type: "volume", source: "db_data", target: "/a" }, { type: "volume", source: "db-data", target: "/b" }] } }, volumes: { db_data: {}, "db-data": {} } },
      type: InvalidInputError,
      message: /services\.web: two volumes of the service map to the Kubernetes volume name "db-data"/,
    },
    { name: "unterminated quote in command", partial: { services: { web: { command: "echo 'hi" } } }, type: InvalidInputError, message: /services\.web\.command: "echo 'hi" has an unterminated single quote/ },
    { name: "neither image nor build", partial: { services: { web: { image: undefined } } }, type: InvalidInputError, message: /services\.web: has neither image nor build/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = errorOf(() => run(c.partial, c.options));
      expect(e).toBeInstanceOf(c.type);
      expect(e.message).toMatch(c.message);
      if (c.hint) expect(e.hint).toMatch(c.hint);
    });
  }
});

describe("export warnings", () => {
  it("lists everything a service loses in ONE warning for that service", () => {
    const { warnings } = run({
      services: {
        app: { privileged: true, network_mode: "host", devices: [{ source: "/dev/kvm", target: "/dev/kvm", permissions: "rwm" }], volumes: [{ type: "bind", source: "/srv/demo/src", target: "/src" }] },
        clean: {},
      },
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^services\.app: Kubernetes cannot carry over: /);
    for (const part of ['network_mode "host"', "devices /dev/kvm", "bind mount /srv/demo/src → /src", "privileged"]) expect(warnings[0]).toContain(part);
  });
  it("warns when a service waits for the completion of a service that is not a Job", () => {
    const { warnings, objects } = run({
      services: {
        web: { depends_on: { seed: { condition: "service_completed_successfully" } } },
        seed: { extensions: { "x-kubernetes": { workload: "deployment" } } },
      },
    });
    expect(warnings).toEqual([
      'services.seed: Kubernetes cannot carry over: no ports or expose, so no Service is made and other pods cannot reach "seed" by name (list its ports under expose:)',
      "services.web: Kubernetes cannot carry over: depends_on seed: service_completed_successfully (seed runs as a Deployment, which never completes)",
    ]);
    expect(objects.map((o) => `${o.kind}/${o.metadata!.name}`)).toEqual(["Deployment/seed", "Deployment/web"]);
  });
  it("warns about a numeric-less user and still exports the rest", () => {
    const { warnings, objects } = run({ services: { web: { user: "nobody" } } });
    expect(warnings[0]).toContain('user "nobody" (Kubernetes needs a numeric uid[:gid])');
    expect(objects).toHaveLength(1);
  });
});

describe("schema check", () => {
  it("names the Kubernetes version that the installed schema package ships", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../../node_modules/kubernetes-models/package.json", import.meta.url), "utf8"));
    // kubernetes-models 4.5.x is generated from the Kubernetes v1.33.0 OpenAPI spec (its changelog).
    expect(pkg.version).toMatch(/^4\.5\./);
    expect(kubernetesVersion).toBe("v1.33.0");
    expect(schemaPackage).toBe("kubernetes-models 4.5");
  });
  it("reports every invalid field of a manifest with its kind, name and path", async () => {
    const bad = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: { replicas: "two", selector: {}, template: { spec: { containers: [{ name: "web", imagePullPolicy: "Sometimes" }] } } },
    } as unknown as KubeObject;
    const problems = await checkManifests([bad]);
    expect(problems).toContain("Deployment/web: spec.replicas: must be integer");
    expect(problems).toContain('Deployment/web: spec.template.spec.containers.0.imagePullPolicy: must be equal to one of the allowed values ("Always", "IfNotPresent", "Never")');
  });
  it("accepts a valid manifest", async () => {
    expect(await checkManifests(run({ services: { web: {} } }).objects)).toEqual([]);
  });
});

describe("manifest files", () => {
  it("names one file per object, prefixed by the kind's apply order", () => {
    const { objects } = run({ services: { web: { expose: ["80"] } } }, { namespace: "prod" });
    expect(manifestFiles(objects).map((f) => f.name)).toEqual(["00-namespace-prod.yaml", "07-service-web.yaml", "10-deployment-web.yaml"]);
  });
});

describe("stack export kubernetes (CLI flags)", () => {
  async function parse(args: string[]): Promise<unknown> {
    const program = buildProgram();
    program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
    try {
      await program.parseAsync(["node", "stack", ...args]);
    } catch (e) {
      return e;
    }
    throw new Error("expected the command to fail");
  }
  it("--push without --image-registry is refused before anything is loaded", async () => {
    const e = (await parse(["export", "kubernetes", "--push"])) as InvalidInputError;
    expect(e).toBeInstanceOf(InvalidInputError);
    expect(e.message).toBe("--push needs --image-registry: the registry the cluster pulls the built images from");
    expect(e.hint).toMatch(/--push --image-registry registry.example.com\/team/);
  });
  it("rejects an unknown --service-type", async () => {
    const e = (await parse(["export", "kubernetes", "--service-type", "Ingress"])) as InvalidInputError;
    expect(e).toBeInstanceOf(InvalidInputError);
    expect(e.message).toBe('--service-type: "Ingress" is not a Service type');
  });
});

describe("export details", () => {
  it("carries a config that is not UTF-8 as binaryData", () => {
    const model = stackFrom({ services: { web: { configs: [{ source: "blob", target: "/blob" }] } }, configs: { blob: { file: "/srv/demo/blob.bin" } } });
    const { objects } = exportKubernetes(model, { serviceType: "ClusterIP" }, { readFile: () => new Uint8Array([0xff, 0x00, 0xfe]), env: {} });
    const cm = objects.find((o) => o.kind === "ConfigMap");
    expect(cm).toMatchObject({ metadata: { name: "blob" }, binaryData: { blob: "/wD+" } });
    expect(cm).not.toHaveProperty("data");
  });
  it("reads a config from the environment given to the export", () => {
    const model = stackFrom({ services: { web: { configs: [{ source: "motd", target: "/etc/motd" }] } }, configs: { motd: { environment: "MOTD" } } });
    const { objects } = exportKubernetes(model, { serviceType: "ClusterIP" }, { ...noFiles, env: { MOTD: "hi" } });
    expect(objects.find((o) => o.kind === "ConfigMap")).toMatchObject({ data: { motd: "hi" } });
  });
  it("keeps a service that mounts a named volume only read-only a Deployment", () => {
    const { objects } = run({ services: { web: { volumes: [{ type: "volume", source: "assets", target: "/a", read_only: true }] } }, volumes: { assets: {} } });
    expect(objects.map((o) => o.kind)).toEqual(["PersistentVolumeClaim", "Deployment"]);
  });
});

describe("env_file environment", () => {
  it("stays inline when a variable name is not a valid ConfigMap key", () => {
    const { objects } = run({ services: { web: { env_file: [{ path: "/srv/demo/.env", required: true }], environment: { "MY VAR": "1", OK: "2" } } } });
    expect(objects.map((o) => o.kind)).toEqual(["Deployment"]);
    const deployment = objects[0] as Extract<KubeObject, { kind: "Deployment" }>;
    expect(deployment.spec?.template.spec?.containers[0]?.env).toEqual([{ name: "MY VAR", value: "1" }, { name: "OK", value: "2" }]);
  });
});

describe("volume settings", () => {
  it("reads x-kubernetes on the volume itself when the model carries volume extensions, before the top-level one", () => {
    const { objects } = run({
      services: { web: { volumes: [{ type: "volume", source: "data", target: "/d", read_only: true }] } },
      volumes: { data: { extensions: { "x-kubernetes": { size: "5Gi" } } } },
      extensions: { "x-kubernetes": { volumes: { data: { size: "2Gi", storage_class: "slow" } } } },
    });
    expect(objects[0]).toMatchObject({ kind: "PersistentVolumeClaim", spec: { resources: { requests: { storage: "5Gi" } } } });
    expect(objects[0]).not.toHaveProperty("spec.storageClassName");
  });
  it("accepts a size in bytes", () => {
    const { objects } = run({ services: {}, volumes: { data: {} }, extensions: { "x-kubernetes": { volumes: { data: { size: 5 * 2 ** 30 } } } } });
    expect(objects[0]).toMatchObject({ kind: "PersistentVolumeClaim", spec: { resources: { requests: { storage: "5Gi" } } } });
  });
});
