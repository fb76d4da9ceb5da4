import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { supervisedContainerOf } from "../../../src/supervisor/container-spec.js";
import { makeService } from "../../helpers/model.js";

const where = { id: "demo-web-1", index: 1, dir: "/state/projects/demo/containers/demo-web-1" };

describe("supervisedContainerOf", () => {
  it("takes defaults from a plain service", () => {
    expect(supervisedContainerOf(makeService("web"), where)).toEqual({
      ...where,
      service: "web",
      restart: { condition: "never" },
      healthcheck: undefined,
      logging: { maxSizeBytes: 10 * 1024 * 1024, maxFiles: 3 },
    });
  });
  it("converts restart, healthcheck and logging options", () => {
    const svc = makeService("db", {
      restart: "on-failure:2",
      healthcheck: { test: ["CMD-SHELL", "pg_isready"], interval: 1000, timeout: 500, retries: 4, start_period: 3000, start_interval: 200, disable: false },
      logging: { driver: "json-file", options: { "max-size": "1m", "max-file": "2" } },
    });
    expect(supervisedContainerOf(svc, where)).toMatchObject({
      restart: { condition: "on-failure", maxAttempts: 2 },
      healthcheck: { argv: ["/bin/sh", "-c", "pg_isready"], intervalMs: 1000, timeoutMs: 500, retries: 4, startPeriodMs: 3000, startIntervalMs: 200 },
      logging: { maxSizeBytes: 1024 * 1024, maxFiles: 2 },
    });
  });
  it("names the service's path in a bad logging option", () => {
    const svc = makeService("web", { logging: { options: { "max-size": "huge" } } });
    expect(() => supervisedContainerOf(svc, where)).toThrow(InvalidInputError);
    expect(() => supervisedContainerOf(svc, where)).toThrow('services.web.logging.options.max-size: invalid size "huge"');
  });
});
