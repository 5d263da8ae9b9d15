"""A retired script (excluded from nothing: it is still audited, and it is clean)."""
