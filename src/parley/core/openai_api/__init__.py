"""Parley's models through OpenAI's chat completions contract: the request as the core sees it, and one class that
runs it (``completions``). The HTTP shapes (JSON, SSE chunks, OpenAI's error body) live at the edge."""
