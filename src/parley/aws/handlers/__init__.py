"""Lambda entry points, one module a function, each one line over a function built once per cold start.

Kept apart so each function imports only what it uses (the WebSocket and worker handlers never import
the web framework).
"""
