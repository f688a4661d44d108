"""The builders ``parley.runtime`` composes, one module by concern, so that a process builds (and imports) only
what it uses: the Lambda authorizer imports ``compose.auth`` and never the chat pipeline or the files service."""
