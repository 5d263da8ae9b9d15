"""Built-in evaluators: win rate against the base model, held-out log-likelihood."""
