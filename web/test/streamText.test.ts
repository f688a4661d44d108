import { describe, expect, it } from "vitest";
import { StreamText } from "../src/chat/streamText";

/** Feed ``text`` in chunks of ``size`` characters, as a stream would. */
function streamed(text: string, size = 3): StreamText {
  const stream = new StreamText();
  for (let i = 0; i < text.length; i += size) stream.append(text.slice(i, i + size));
  return stream;
}

function allBlocks(stream: StreamText): string[] {
  return [...stream.blocks, stream.open];
}

describe("StreamText", () => {
  it("keeps every character, in order, whatever the chunking", () => {
    const text = "# Title\n\nSome *text*.\n\n- a\n- b\n\n```js\nlet x = 1;\n\nx++;\n```\n\nEnd.";
    for (const size of [1, 2, 5, 17, 1000]) {
      const stream = streamed(text, size);
      expect(stream.text).toBe(text);
      // The blocks are the text in order; only blank lines fall between them.
      let at = 0;
      for (const block of allBlocks(stream)) {
        const found = text.indexOf(block, at);
        expect(text.slice(at, found).trim()).toBe("");
        at = found + block.length;
      }
      expect(at).toBe(text.length);
    }
  });

  it("cuts at blank lines between paragraphs", () => {
    const stream = streamed("One.\n\nTwo.\n\nThree\n");
    expect(stream.blocks).toEqual(["One.\n", "Two.\n"]);
    expect(stream.open).toBe("Three\n");
  });

  it("does not cut inside a fenced code block with blank lines", () => {
    const stream = streamed("```python\ndef f():\n\n    return 1\n```\n\nAfter\n");
    expect(stream.blocks).toEqual(["```python\ndef f():\n\n    return 1\n```\n"]);
    expect(stream.open).toBe("After\n");
  });

  it("needs a closing fence at least as long as the opening one", () => {
    const stream = streamed("````\n```\n\ninner\n````\n\nout\n");
    expect(stream.blocks).toEqual(["````\n```\n\ninner\n````\n"]);
  });

  it("keeps a loose list and indented continuations in one block", () => {
    const stream = streamed("1. first\n\n2. second\n\n   more about second\n\nAfter the list\n");
    expect(stream.blocks).toEqual(["1. first\n\n2. second\n\n   more about second\n"]);
    expect(stream.open).toBe("After the list\n");
  });

  it("waits for the next line before closing a block", () => {
    const stream = new StreamText();
    stream.append("Para.\n\n");
    expect(stream.blocks).toEqual([]);
    stream.append("  indented");
    stream.append("\n");
    expect(stream.blocks).toEqual([]);
    expect(stream.open).toBe("Para.\n\n  indented\n");
  });

  it("never changes a finished block", () => {
    const stream = new StreamText();
    stream.append("A.\n\nB.\n\n");
    stream.append("C");
    const first = stream.blocks[0];
    stream.append(".\n\nD");
    expect(stream.blocks[0]).toBe(first);
    expect(stream.blocks).toEqual(["A.\n", "B.\n"]);
    expect(stream.open).toBe("C.\n\nD"); // decided when the line after the blank one is complete
    stream.append("\n");
    expect(stream.blocks).toEqual(["A.\n", "B.\n", "C.\n"]);
  });

  it("scans each character once, even for one very long line", () => {
    const stream = new StreamText();
    const chunks = 20_000;
    for (let i = 0; i < chunks; i += 1) stream.append(i % 500 === 499 ? "word\n\n" : "word ");
    expect(stream.scanned).toBeLessThanOrEqual(stream.length);
    // 50,000 tokens on one line, reading the open block each time as a frame would: still fast.
    const oneLine = new StreamText();
    const started = performance.now();
    for (let i = 0; i < 50_000; i += 1) {
      oneLine.append("token ");
      if (i % 100 === 0) void oneLine.open.length;
    }
    expect(performance.now() - started).toBeLessThan(1000);
    expect(oneLine.blocks).toEqual([]);
    expect(oneLine.length).toBe(300_000);
  });

  it("builds from saved text the same as from the stream", () => {
    const text = "Intro\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quote\n\n```\ncode\n```";
    const saved = StreamText.from(text);
    const live = streamed(text, 1);
    expect(saved.blocks).toEqual(live.blocks);
    expect(saved.open).toBe(live.open);
  });
});
