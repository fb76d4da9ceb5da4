import { describe, expect, it } from "vitest";
import { familiarReference, formatReference, parseReference } from "../../../src/image/reference.js";

const D = `sha256:${"a".repeat(64)}`;

describe("parseReference normalises like Docker", () => {
  it.each([
    { input: "busybox", full: "docker.io/library/busybox:latest", familiar: "busybox:latest" },
    { input: "busybox:1.36", full: "docker.io/library/busybox:1.36", familiar: "busybox:1.36" },
    { input: "library/busybox", full: "docker.io/library/busybox:latest", familiar: "busybox:latest" },
    { input: "docker.io/busybox", full: "docker.io/library/busybox:latest", familiar: "busybox:latest" },
    { input: "index.docker.io/busybox:x", full: "docker.io/library/busybox:x", familiar: "busybox:x" },
    { input: "me/app", full: "docker.io/me/app:latest", familiar: "me/app:latest" },
    { input: "me/team/app:v1", full: "docker.io/me/team/app:v1", familiar: "me/team/app:v1" },
    { input: "localhost/app", full: "localhost/app:latest", familiar: "localhost/app:latest" },
    { input: "localhost:5000/app:dev", full: "localhost:5000/app:dev", familiar: "localhost:5000/app:dev" },
    { input: "127.0.0.1:5000/a/b/c", full: "127.0.0.1:5000/a/b/c:latest", familiar: "127.0.0.1:5000/a/b/c:latest" },
    { input: "[::1]:5000/app:1", full: "[::1]:5000/app:1", familiar: "[::1]:5000/app:1" },
    { input: "ghcr.io/org/app", full: "ghcr.io/org/app:latest", familiar: "ghcr.io/org/app:latest" },
    { input: "Registry/app", full: "Registry/app:latest", familiar: "Registry/app:latest" },
    { input: `app@${D}`, full: `docker.io/library/app@${D}`, familiar: `app@${D}` },
    { input: `app:1@${D}`, full: `docker.io/library/app:1@${D}`, familiar: `app:1@${D}` },
    { input: "my_app.v2-x__y:T_1.0-rc", full: "docker.io/library/my_app.v2-x__y:T_1.0-rc", familiar: "my_app.v2-x__y:T_1.0-rc" },
  ])("$input", ({ input, full, familiar }) => {
    const ref = parseReference(input);
    expect(formatReference(ref)).toBe(full);
    expect(familiarReference(ref)).toBe(familiar);
  });
});

describe("parseReference refuses bad references with the reason", () => {
  it.each([
    { input: "", error: /it is empty/ },
    { input: "Busybox", error: /repository names must be lower case/ },
    { input: "busy box", error: /path component "busy box"/ },
    { input: "app:", error: /tag ""/ },
    { input: "app:-x", error: /tag "-x"/ },
    { input: `app:${"t".repeat(129)}`, error: /tag/ },
    { input: "app@sha256:abc", error: /digest "sha256:abc" is not ALGORITHM:HEX/ },
    { input: `app@sha256:${"A".repeat(64)}`, error: /64 lower-case hex/ },
    { input: "a".repeat(64).replace(/a/g, "f"), error: /is an image ID, not a name/ },
    { input: "host:port/app", error: /registry "host:port" is not HOST\[:PORT\]/ },
    { input: "/app", error: /path component ""/ },
    { input: "app//x", error: /path component ""/ },
    { input: "a__-b", error: /path component "a__-b"/ },
    { input: `x/${"a".repeat(260)}`, error: /longer than 255/ },
  ])("$input", ({ input, error }) => {
    expect(() => parseReference(input)).toThrow(error);
  });

  it("gives a hint with the accepted forms", () => {
    try {
      parseReference("Bad");
    } catch (e) {
      expect((e as { hint: string }).hint).toMatch(/NAME\[:TAG\]\[@DIGEST\]/);
    }
    expect.assertions(1);
  });
});
