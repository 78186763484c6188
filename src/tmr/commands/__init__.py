"""Command implementations behind ``tmr`` sub-commands (the CLI parses, these do the work)."""
