import { describe, expect, it } from "vitest";
import { applyChanges } from "../../../src/image/store/changes.js";

describe("applyChanges", () => {
  it.each([
    { changes: ['CMD ["sh", "-c", "echo hi"]'], expected: { Cmd: ["sh", "-c", "echo hi"] } },
    { changes: ["CMD echo hi"], expected: { Cmd: ["/bin/sh", "-c", "echo hi"] } },
    { changes: ["cmd [not json"], expected: { Cmd: ["/bin/sh", "-c", "[not json"] } },
    { changes: ['ENTRYPOINT ["/bin/tini", "--"]'], expected: { Entrypoint: ["/bin/tini", "--"] } },
    { changes: ["ENV A=1 B=\"two words\"", "ENV A=3"], expected: { Env: ["A=3", "B=two words"] } },
    { changes: ["ENV LEGACY some value"], expected: { Env: ["LEGACY=some value"] } },
    { changes: ["EXPOSE 80 53/udp"], expected: { ExposedPorts: { "80/tcp": {}, "53/udp": {} } } },
    { changes: ['LABEL a=1 "b"="x y"'], expected: { Labels: { a: "1", '"b"': "x y" } } },
    { changes: ["VOLUME /data /logs"], expected: { Volumes: { "/data": {}, "/logs": {} } } },
    { changes: ['VOLUME ["/data"]'], expected: { Volumes: { "/data": {} } } },
    { changes: ["WORKDIR /app", "USER app:app", "STOPSIGNAL SIGINT"], expected: { WorkingDir: "/app", User: "app:app", StopSignal: "SIGINT" } },
  ])("$changes", ({ changes, expected }) => {
    expect(applyChanges({}, changes)).toEqual(expected);
  });

  it("keeps what the changes do not touch and does not modify its input", () => {
    const input = { Env: ["A=1"], Cmd: ["x"] };
    expect(applyChanges(input, ["ENV B=2"])).toEqual({ Env: ["A=1", "B=2"], Cmd: ["x"] });
    expect(input).toEqual({ Env: ["A=1"], Cmd: ["x"] });
  });

  it.each([
    { change: "RUN apt-get update", error: /"RUN" cannot be applied to an imported image/ },
    { change: "", error: /it is empty/ },
    { change: "CMD", error: /the command is empty/ },
    { change: "EXPOSE http", error: /"http" is not PORT\[\/PROTOCOL\]/ },
    { change: "EXPOSE", error: /names no port/ },
    { change: "ENV =x", error: /"=x" is not KEY=VALUE/ },
    { change: "WORKDIR", error: /names no directory/ },
    { change: "USER", error: /names no user/ },
    { change: "STOPSIGNAL", error: /names no signal/ },
    { change: "VOLUME", error: /names no path/ },
  ])("refuses $change", ({ change, error }) => {
    expect(() => applyChanges({}, [change])).toThrow(error);
  });
});
