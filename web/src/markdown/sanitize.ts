// What model output may link to and load. Model output is untrusted: a prompt-injected answer must not
// run script, and must not make the browser request a URL that carries data out (e.g. an image).

const LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const DATA_IMAGE = /^data:image\/(?:png|gif|jpe?g|webp|avif);base64,[a-z0-9+/=\s]+$/i;

/** An absolute http(s) or mailto URL to link to, or null when the text must not become a link. */
export function safeLinkHref(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url.trim()); // relative URLs throw: there is nothing sensible for them to point at
  } catch {
    return null;
  }
  return LINK_PROTOCOLS.has(parsed.protocol) ? parsed.href : null;
}

export type ImagePlan = { load: true; src: string } | { load: false; href: string | null };

/** Images load only from the page's own origin (or inline data); anything else becomes a link. */
export function planImage(src: string, pageOrigin: string): ImagePlan {
  const trimmed = src.trim();
  if (DATA_IMAGE.test(trimmed)) return { load: true, src: trimmed };
  let parsed: URL;
  try {
    parsed = new URL(trimmed, pageOrigin);
  } catch {
    return { load: false, href: null };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return { load: false, href: null };
  if (parsed.origin === pageOrigin) return { load: true, src: parsed.href };
  return { load: false, href: parsed.href };
}
