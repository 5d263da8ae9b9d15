"""Built-in transformers-backed plugins: completion-style generators and the log-prob critic."""
