import { describe, expect, it } from "vitest";
import { planImage, safeLinkHref } from "../src/markdown/sanitize";

describe("safeLinkHref", () => {
  it.each([
    ["https://example.com/a?b=c", "https://example.com/a?b=c"],
    ["http://example.com", "http://example.com/"],
    ["mailto:someone@example.com", "mailto:someone@example.com"],
  ])("allows %s", (url, expected) => {
    expect(safeLinkHref(url)).toBe(expected);
  });

  it.each([
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    " javascript:alert(1)",
    "java\nscript:alert(1)",
    "java\tscript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "/relative/path",
    "#anchor",
    "",
  ])("refuses %j", (url) => {
    expect(safeLinkHref(url)).toBeNull();
  });
});

describe("planImage", () => {
  const origin = "http://127.0.0.1:8000";

  it("loads images from the page's origin", () => {
    expect(planImage("/static/a.png", origin)).toEqual({ load: true, src: "http://127.0.0.1:8000/static/a.png" });
    expect(planImage("http://127.0.0.1:8000/x.png", origin)).toEqual({ load: true, src: "http://127.0.0.1:8000/x.png" });
  });

  it("loads inline data images", () => {
    expect(planImage("data:image/png;base64,iVBORw0KGgo=", origin).load).toBe(true);
  });

  it("turns images from other origins into links", () => {
    expect(planImage("https://example.invalid/x.png?leak=secret", origin)).toEqual({
      load: false,
      href: "https://example.invalid/x.png?leak=secret",
    });
    expect(planImage("//evil.example/x.png", origin)).toEqual({ load: false, href: "http://evil.example/x.png" });
    expect(planImage("http://127.0.0.1:9999/x.png", origin).load).toBe(false);
  });

  it("drops script and other schemes", () => {
    expect(planImage("javascript:alert(1)", origin)).toEqual({ load: false, href: null });
    expect(planImage("data:text/html,hi", origin)).toEqual({ load: false, href: null });
    expect(planImage("data:image/svg+xml,<svg onload=alert(1)>", origin)).toEqual({ load: false, href: null });
  });
});
