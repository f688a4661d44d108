"""The local server: a FastAPI app over the core. HTTP and WebSocket concerns live only here."""
