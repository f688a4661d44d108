"""The built-in import formats; importing this package registers each of them."""

from parley.core.history.formats import chatgpt, openwebui  # noqa: F401  (registers them)
