"""The local-model baseline: llama-cpp-python's own streaming loop, nothing around it.

    python -m bench.peers.llama_loop MODEL.gguf --threads 2 --max-tokens 128 --runs 5 --prompt "..."

Loads the model the way Parley does (same file, context size and threads), streams the same chat
completion ``--runs`` times and prints one JSON line per run: the arrival time of every non-empty piece.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import llama_cpp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prompt", required=True)
    args = parser.parse_args()
    llm = llama_cpp.Llama(model_path=args.model, n_ctx=args.n_ctx, n_threads=args.threads, verbose=False)
    for _ in range(args.runs):
        sent = time.perf_counter()
        tokens: list[float] = []
        chunks: Any = llm.create_chat_completion(
            messages=[{"role": "user", "content": args.prompt}],
            stream=True,
            # What Parley passes for {"temperature": 0, "top_p": 1, "max_tokens": N} (the rest at its defaults).
            temperature=0.0,
            top_p=1.0,
            frequency_penalty=0.0,
            presence_penalty=0.0,
            max_tokens=args.max_tokens,
        )
        for chunk in chunks:
            if chunk["choices"][0]["delta"].get("content"):
                tokens.append(time.perf_counter())
        print(json.dumps({"sent": sent, "tokens": tokens, "done": time.perf_counter()}), flush=True)
    llm.close()


if __name__ == "__main__":
    main()
