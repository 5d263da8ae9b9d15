"""Built-in vLLM engine: the data stages' generators and critic, served by vLLM (see docs/scale.md)."""
