import { describe, expect, test } from "vitest";
import { parseGroup, parsePasswd, resolveUser, type ResolvedUser } from "../../../src/runtime/user.js";

const files = {
  passwd: "root:x:0:0:root:/root:/bin/sh\n# comment\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\nbroken line\n",
  group: "root:x:0:\nstaff:x:50:app,other\nwheel:x:10:app\napp:x:1000:\nnogroup:x:65534:\n",
};

describe("resolveUser", () => {
  const cases: Array<{ name: string; spec: string | undefined; groupAdd?: string[]; expected: ResolvedUser }> = [
    { name: "empty = root", spec: undefined, expected: { uid: 0, gid: 0, additionalGids: [], home: "/root", name: "root" } },
    { name: "name", spec: "app", expected: { uid: 1000, gid: 1000, additionalGids: [10, 50], home: "/home/app", name: "app" } },
    { name: "uid known", spec: "1000", expected: { uid: 1000, gid: 1000, additionalGids: [10, 50], home: "/home/app", name: "app" } },
    { name: "uid unknown: gid 0, home /", spec: "4242", expected: { uid: 4242, gid: 0, additionalGids: [], home: "/" } },
    { name: "uid:gid", spec: "1000:65534", expected: { uid: 1000, gid: 65534, additionalGids: [10, 50], home: "/home/app", name: "app" } },
    { name: "name:group", spec: "nobody:staff", expected: { uid: 65534, gid: 50, additionalGids: [], home: "/nonexistent", name: "nobody" } },
    { name: "uid:group", spec: "4242:wheel", expected: { uid: 4242, gid: 10, additionalGids: [], home: "/" } },
    { name: "group_add by name and gid, primary not repeated", spec: "nobody", groupAdd: ["wheel", "777", "nogroup"], expected: { uid: 65534, gid: 65534, additionalGids: [10, 777], home: "/nonexistent", name: "nobody" } },
  ];
  test.each(cases)("$name", ({ spec, groupAdd, expected }) => {
    expect(resolveUser(spec, files, groupAdd)).toEqual(expected);
  });

  const errors: Array<{ name: string; spec: string; groupAdd?: string[]; message: RegExp }> = [
    { name: "unknown user", spec: "ghost", message: /services\.web\.user: unable to find user "ghost": no matching entry/ },
    { name: "unknown group", spec: "app:ghosts", message: /unable to find group "ghosts"/ },
    { name: "unknown group_add", spec: "app", groupAdd: ["ghosts"], message: /group_add: unable to find group "ghosts"/ },
    { name: "no user before colon", spec: ":50", message: /has no user before ":"/ },
    { name: "uid out of range", spec: "99999999999", message: /uid "99999999999" is out of range/ },
  ];
  test.each(errors)("error: $name", ({ spec, groupAdd, message }) => {
    expect(() => resolveUser(spec, files, groupAdd, "services.web.user")).toThrow(message);
  });

  test("an image without passwd/group files still runs numeric users", () => {
    expect(resolveUser("1:2", { passwd: "", group: "" })).toEqual({ uid: 1, gid: 2, additionalGids: [], home: "/" });
    expect(() => resolveUser("app", { passwd: "", group: "" })).toThrow(/unable to find user "app"/);
  });

  test("parsers skip comments and malformed lines", () => {
    expect(parsePasswd(files.passwd).map((u) => u.name)).toEqual(["root", "nobody", "app"]);
    expect(parseGroup(files.group).find((g) => g.name === "staff")!.members).toEqual(["app", "other"]);
  });
});
