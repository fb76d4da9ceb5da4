import { expect, test } from "vitest";
import { FoundImages } from "../../../src/engine/found-images.js";

test("an image found is looked up once per command; a missing one each time; a forgotten one again", async () => {
  const lookups: string[] = [];
  const store = new Map([["web:1", { digest: "sha256:a" }]]);
  const found = new FoundImages(async (ref: string) => {
    lookups.push(ref);
    return store.get(ref);
  });
  expect(await found.resolve("web:1")).toEqual({ digest: "sha256:a" });
  expect(await found.resolve("web:1")).toEqual({ digest: "sha256:a" });
  expect(await found.resolve("db:1")).toBeUndefined();
  expect(await found.resolve("db:1")).toBeUndefined();
  expect(lookups).toEqual(["web:1", "db:1", "db:1"]);
  // A pull of web:1 made another image: forgotten, the next service sees it.
  store.set("web:1", { digest: "sha256:b" });
  found.forget("web:1");
  expect(await found.resolve("web:1")).toEqual({ digest: "sha256:b" });
  expect(lookups).toEqual(["web:1", "db:1", "db:1", "web:1"]);
});
