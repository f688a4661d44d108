// An answer's text as it streams in, cut into markdown blocks as it goes.
//
// Blocks that are finished never change, so they are parsed and rendered once; each frame only the
// last, open block is parsed again. Cutting is incremental too: each chunk is scanned once and the
// whole answer is never re-read (not even by indexOf on one growing string, which V8 would flatten
// at every call), so a long answer costs work in proportion to its length, not to its square.
//
// A block ends at a blank line outside a fenced code block, unless the next line continues it
// (indented, or another item of the same list), so loose lists and indented continuations stay whole.

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const LIST_ITEM = /^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)/;

interface Fence {
  char: string;
  length: number;
}

export class StreamText {
  private readonly parts: string[] = [];
  private joined: string | null = "";
  private size = 0;
  private readonly closed: string[] = [];
  private openLines = ""; // complete lines of the open block
  private blankRun = ""; // blank lines after them, not yet known to end the block
  private partial = ""; // the last line, still without its newline
  private blockIsList = false;
  private fence: Fence | null = null;
  /** Characters scanned, for tests that the work stays linear. */
  scanned = 0;

  static from(text: string): StreamText {
    const stream = new StreamText();
    stream.append(text);
    return stream;
  }

  /** The whole text (joined on demand: for copying and comparing, not for every frame). */
  get text(): string {
    if (this.joined === null) this.joined = this.parts.join("");
    return this.joined;
  }

  get length(): number {
    return this.size;
  }

  /** The finished blocks; an entry never changes once added. */
  get blocks(): readonly string[] {
    return this.closed;
  }

  /** The block still being written (may be empty). */
  get open(): string {
    return this.openLines + this.blankRun + this.partial;
  }

  append(chunk: string): void {
    if (!chunk) return;
    this.parts.push(chunk);
    this.joined = null;
    this.size += chunk.length;
    let from = 0;
    for (let newline = chunk.indexOf("\n"); newline !== -1; newline = chunk.indexOf("\n", from)) {
      const line = this.partial + chunk.slice(from, newline + 1);
      this.partial = "";
      this.scanned += line.length;
      this.addLine(line);
      from = newline + 1;
    }
    this.partial += chunk.slice(from);
  }

  /** One complete line, with its newline. */
  private addLine(line: string): void {
    const content = line.slice(0, -1);
    if (this.fence) {
      this.openLines += line;
      if (closesFence(content, this.fence)) this.fence = null;
      return;
    }
    if (content.trim() === "") {
      if (this.openLines) this.blankRun += line;
      else this.openLines += line; // leading blank lines belong to the block they precede
      return;
    }
    const isItem = LIST_ITEM.test(content);
    if (this.blankRun) {
      const continues = /^[ \t]/.test(content) || (this.blockIsList && isItem);
      if (continues) {
        this.openLines += this.blankRun;
      } else {
        this.closed.push(this.openLines);
        this.openLines = "";
      }
      this.blankRun = "";
    }
    if (this.openLines.trim() === "") this.blockIsList = isItem;
    this.openLines += line;
    const fence = FENCE.exec(content);
    if (fence?.[1] && !(fence[1][0] === "`" && fence[2]?.includes("`"))) {
      this.fence = { char: fence[1][0] ?? "`", length: fence[1].length };
    }
  }
}

function closesFence(line: string, fence: Fence): boolean {
  const match = /^ {0,3}(`+|~+)[ \t]*$/.exec(line);
  return !!match?.[1] && match[1][0] === fence.char && match[1].length >= fence.length;
}
