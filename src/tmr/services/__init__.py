"""Use cases of the registry. Services take a session from the caller and never commit."""
