"""The `pasar` command line: operator and participant commands over HTTP."""
