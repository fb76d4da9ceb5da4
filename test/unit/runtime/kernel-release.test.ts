// kernelAtLeast: whether the overlay the OCI runtime mounts may ask for
// `volatile` (Linux 5.10+), read from os.release().
import { describe, expect, test } from "vitest";
import { kernelAtLeast } from "../../../src/runtime/index.js";

describe("kernelAtLeast(release, 5, 10)", () => {
  const cases = [
    { release: "6.1.0-18-amd64", expected: true },
    { release: "5.10.0-28-cloud-amd64", expected: true },
    { release: "5.9.16", expected: false },
    { release: "4.19.0-26-amd64", expected: false },
    { release: "10.0.1", expected: true },
    { release: "5.15.153.1-microsoft-standard-WSL2", expected: true },
    { release: "weird", expected: false },
    { release: "", expected: false },
  ];
  test.each(cases)("$release → $expected", ({ release, expected }) => {
    expect(kernelAtLeast(release, 5, 10)).toBe(expected);
  });
});
