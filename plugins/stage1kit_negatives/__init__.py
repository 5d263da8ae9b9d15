"""Built-in hard-negative miners, one plugin module per negative type."""
