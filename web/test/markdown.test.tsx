import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { MarkdownBlock } from "../src/markdown/Markdown";

afterEach(cleanup);

function html(markdown: string): HTMLElement {
  return render(<MarkdownBlock text={markdown} />).container;
}

describe("MarkdownBlock", () => {
  it("renders GitHub-flavoured tables, lists and strikethrough", () => {
    const root = html("| a | b |\n|---|:-:|\n| 1 | 2 |\n\n- one\n- [x] done\n\n~~old~~");
    expect(root.querySelectorAll("table th")).toHaveLength(2);
    expect(root.querySelector("td")?.textContent).toBe("1");
    expect(root.querySelector(".table-scroll > table")).not.toBeNull();
    expect(root.querySelectorAll("li")).toHaveLength(2);
    expect(root.querySelector('input[type="checkbox"]')).not.toBeNull();
    expect(root.querySelector("del")?.textContent).toBe("old");
  });

  it("highlights fenced code and offers a copy button", () => {
    const root = html("```python\ndef f():\n    return 'x'\n```");
    expect(root.querySelector(".code-language")?.textContent).toBe("python");
    expect(root.querySelector("pre code.hljs")).not.toBeNull();
    expect(root.querySelector(".hljs-keyword")?.textContent).toBe("def");
    expect(screen.getByRole("button", { name: "Copy code" })).toBeTruthy();
    expect(root.querySelector("pre")?.textContent).toBe("def f():\n    return 'x'\n");
  });

  it("leaves code without a language alone, and survives unknown languages", () => {
    expect(html("```\nplain <b>\n```").querySelector("pre code")?.textContent).toBe("plain <b>\n");
    expect(html("```nosuchlang\nx\n```").querySelector(".code-language")?.textContent).toBe("nosuchlang");
  });

  it("shows raw HTML as text, never as elements", () => {
    const root = html('<script>alert(1)</script>\n\nHi <img src=x onerror="alert(2)"> <b>bold</b>\n\n<iframe src="https://evil.example"></iframe>');
    expect(root.querySelector("script, img, iframe, b")).toBeNull();
    expect(root.textContent).toContain("<script>alert(1)</script>");
    expect(root.textContent).toContain('<img src=x onerror="alert(2)">');
    expect(root.innerHTML).not.toMatch(/<(script|img|iframe|b)[\s>]/);
  });

  it("opens links in a new tab without an opener or referrer", () => {
    const link = html("[site](https://example.com/page)").querySelector("a");
    expect(link?.getAttribute("href")).toBe("https://example.com/page");
    expect(link?.getAttribute("target")).toBe("_blank");
    expect(link?.getAttribute("rel")).toBe("noopener noreferrer");
  });

  it("does not make script or relative URLs into links", () => {
    const root = html("[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](data:text/html,x) [d](/api/logout) <javascript:alert(1)>");
    expect(root.querySelector("a")).toBeNull();
    expect(root.textContent).toContain("a");
    expect(root.querySelector("[href]")).toBeNull();
  });

  it("shows images from other origins as links instead of loading them", () => {
    const root = html("![leak](https://example.invalid/x.png?secret=1)");
    expect(root.querySelector("img")).toBeNull();
    const link = root.querySelector("a.md-image-link");
    expect(link?.getAttribute("href")).toBe("https://example.invalid/x.png?secret=1");
    expect(link?.getAttribute("rel")).toBe("noopener noreferrer");
    expect(link?.textContent).toContain("leak");
  });

  it("loads images from its own origin", () => {
    const img = html(`![logo](${window.location.origin}/favicon.svg)`).querySelector("img");
    expect(img?.getAttribute("src")).toBe(`${window.location.origin}/favicon.svg`);
    expect(img?.getAttribute("referrerpolicy")).toBe("no-referrer");
  });

  it("keeps autolinks safe", () => {
    const link = html("see https://example.com/x").querySelector("a");
    expect(link?.getAttribute("rel")).toBe("noopener noreferrer");
  });
});
