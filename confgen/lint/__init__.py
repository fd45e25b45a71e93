"""The linter: a registry that rule families add themselves to, the context they read, the engine
that runs them, and the output formats."""
