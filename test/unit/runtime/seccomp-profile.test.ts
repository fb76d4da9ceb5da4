import { describe, expect, test } from "vitest";
import { defaultSeccompProfile } from "../../../src/runtime/seccomp-profile.js";

describe("default seccomp profile: architectures", () => {
  test("x86-64 hosts filter the native ABI and i386, not x32", () => {
    expect(defaultSeccompProfile([], "x64").architectures).toEqual(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
  });
  test("arm64 hosts filter AArch64 and 32-bit ARM", () => {
    expect(defaultSeccompProfile([], "arm64").architectures).toEqual(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
  });
  test("an unknown host architecture gets no list (runc then filters the native ABI only)", () => {
    expect(defaultSeccompProfile([], "riscv64").architectures).toEqual([]);
  });
});
