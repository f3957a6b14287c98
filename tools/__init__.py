"""Developer tools that are not part of the moegate package (not installed with it)."""
