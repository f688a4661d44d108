"""The core: auth, chat, providers and stores. It knows nothing of HTTP, WebSockets or AWS."""
