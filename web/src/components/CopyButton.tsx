import { useEffect, useRef, useState } from "react";
import { copyText } from "../lib/clipboard";
import { CheckIcon, CopyIcon } from "./icons";

export function CopyButton({ text, label, showText = false }: { text: string; label: string; showText?: boolean }) {
  const [copied, setCopied] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);
  const copy = async () => {
    if (await copyText(text)) {
      setCopied(true);
      if (timer.current) clearTimeout(timer.current);
      timer.current = setTimeout(() => setCopied(false), 1500);
    }
  };
  return (
    <button type="button" className="icon-button small" onClick={() => void copy()} aria-label={copied ? "Copied" : label} title={label}>
      {copied ? <CheckIcon /> : <CopyIcon />}
      {showText && <span>{copied ? "Copied" : "Copy"}</span>}
    </button>
  );
}
