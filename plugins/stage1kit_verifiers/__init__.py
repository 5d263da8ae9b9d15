"""Built-in verifiers: exact match against a reference file, a regular expression, a Python callable."""
