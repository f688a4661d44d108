// Markdown for model output: GitHub-flavoured (tables, task lists, strikethrough), highlighted code
// with a copy button, and nothing that runs script or loads from another origin (see sanitize.ts).
import type { Element, ElementContent } from "hast";
import { memo, type ComponentPropsWithoutRef, type ReactNode } from "react";
import ReactMarkdown, { type Components, type UrlTransform } from "react-markdown";
import rehypeHighlight from "rehype-highlight";
import remarkGfm from "remark-gfm";
import { CopyButton } from "../components/CopyButton";
import { ImageIcon } from "../components/icons";
import remarkHtmlAsText from "./remarkHtmlAsText";
import { planImage, safeLinkHref } from "./sanitize";

const ALLOWED = [
  "p", "a", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "input", "hr", "br", "img",
  "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "span", "sup", "section",
];

const remarkPlugins = [remarkGfm, remarkHtmlAsText];
const rehypePlugins = [[rehypeHighlight, { detect: false }]] as const;

const urlTransform: UrlTransform = (url, key) => (key === "href" ? (safeLinkHref(url) ?? "") : url);

function Link({ href, children }: ComponentPropsWithoutRef<"a">) {
  const safe = href ? safeLinkHref(href) : null;
  if (!safe) return <span className="md-dead-link">{children}</span>;
  return (
    <a href={safe} target="_blank" rel="noopener noreferrer">
      {children}
    </a>
  );
}

function Image({ src, alt }: ComponentPropsWithoutRef<"img">) {
  const plan = planImage(typeof src === "string" ? src : "", window.location.origin);
  if (plan.load) return <img src={plan.src} alt={alt ?? ""} loading="lazy" referrerPolicy="no-referrer" />;
  const label = alt?.trim() || "image";
  if (!plan.href) return <span className="md-image-link">[{label}]</span>;
  return (
    <a className="md-image-link" href={plan.href} target="_blank" rel="noopener noreferrer" title={plan.href}>
      <ImageIcon />
      <span>{label}</span>
    </a>
  );
}

function textOf(node: ElementContent | Element): string {
  if (node.type === "text") return node.value;
  if (node.type === "element") return node.children.map(textOf).join("");
  return "";
}

function CodeBlock({ node, children }: ComponentPropsWithoutRef<"pre"> & { node?: Element }) {
  const code = node?.children.find((c): c is Element => c.type === "element" && c.tagName === "code");
  const classes = (code?.properties.className as string[] | undefined) ?? [];
  const language = classes.find((c) => c.startsWith("language-"))?.slice("language-".length);
  const text = code ? textOf(code).replace(/\n$/, "") : "";
  return (
    <div className="code-block">
      <div className="code-header">
        <span className="code-language">{language ?? "text"}</span>
        <CopyButton text={text} label="Copy code" showText />
      </div>
      <pre>{children}</pre>
    </div>
  );
}

function Table({ children }: { children?: ReactNode }) {
  return (
    <div className="table-scroll">
      <table>{children}</table>
    </div>
  );
}

const components: Components = { a: Link, img: Image, pre: CodeBlock, table: Table };

/** One markdown block; memoised, so a finished block is rendered once however long the answer grows. */
export const MarkdownBlock = memo(function MarkdownBlock({ text }: { text: string }) {
  if (!text) return null;
  return (
    <ReactMarkdown
      remarkPlugins={remarkPlugins}
      rehypePlugins={rehypePlugins as never}
      components={components}
      urlTransform={urlTransform}
      allowedElements={ALLOWED}
      unwrapDisallowed
      skipHtml={false}
    >
      {text}
    </ReactMarkdown>
  );
});
