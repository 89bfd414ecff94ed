import { describe, expect, it } from "vitest";
import { onePer } from "../src/isolate-cache.ts";

describe("onePer", () => {
  it("builds one value per key object, from the first call's arguments, and another for another key", () => {
    let built = 0;
    const forEnv = onePer((env: { name: string }, suffix: string) => {
      built++;
      return `${env.name}${suffix}`;
    });
    const a = { name: "a" };
    const b = { name: "a" };
    expect(forEnv(a, "-1")).toBe("a-1");
    expect(forEnv(a, "-2")).toBe("a-1");
    expect(built).toBe(1);
    // An equal but distinct object (a new env) gets its own value.
    expect(forEnv(b, "-3")).toBe("a-3");
    expect(built).toBe(2);
  });
});
