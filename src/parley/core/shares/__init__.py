"""Share links: a public, read-only snapshot of a conversation's current branch."""
