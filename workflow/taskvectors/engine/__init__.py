"""Model access and computation: loading, decoder blocks and hooks, patching and sweeping, the
vocabulary head, attention heads, vectors, fine-tuning."""
