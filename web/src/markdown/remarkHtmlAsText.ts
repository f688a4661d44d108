// Raw HTML in model output is shown as the text it is, never parsed into elements.
import type { Nodes, Parent, Root } from "mdast";

const BLOCK_PARENTS = new Set(["root", "blockquote", "listItem", "footnoteDefinition"]);

export default function remarkHtmlAsText() {
  return (tree: Root) => {
    walk(tree);
  };
}

function walk(node: Parent): void {
  node.children = node.children.map((child) => {
    const current = child as Nodes;
    if (current.type === "html") {
      const text = { type: "text" as const, value: current.value, position: current.position };
      return (BLOCK_PARENTS.has(node.type) ? { type: "paragraph", children: [text] } : text) as typeof child;
    }
    if ("children" in current) walk(current as Parent);
    return child;
  });
}
