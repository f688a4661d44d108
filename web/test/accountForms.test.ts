import { describe, expect, it } from "vitest";
import { draftProblem, draftReady } from "../src/components/AccountFields";
import { setupCodeFrom } from "../src/components/SetupPage";

describe("setupCodeFrom", () => {
  it("reads the code of a setup link's fragment", () => {
    expect(setupCodeFrom("#code=abc_DEF-123")).toBe("abc_DEF-123");
    expect(setupCodeFrom("code=xyz")).toBe("xyz");
  });

  it("is null without one", () => {
    expect(setupCodeFrom("")).toBeNull();
    expect(setupCodeFrom("#code=")).toBeNull();
    expect(setupCodeFrom("#other=1")).toBeNull();
  });
});

describe("a new account's fields", () => {
  const draft = { username: "owner", password: "long enough", repeat: "long enough" };

  it("are ready when named, long enough and typed twice alike", () => {
    expect(draftProblem(draft)).toBeNull();
    expect(draftReady(draft)).toBe(true);
  });

  it("say what is wrong", () => {
    expect(draftProblem({ ...draft, repeat: "long enougH" })).toBe("The passwords do not match.");
    expect(draftProblem({ ...draft, password: "short", repeat: "" })).toMatch(/at least 8 characters/);
    expect(draftReady({ ...draft, username: "  " })).toBe(false);
    expect(draftReady({ ...draft, repeat: "" })).toBe(false);
  });
});
