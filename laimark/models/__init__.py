"""Models: resolution and loading (embedded, Hugging Face, folders, GGUF, adapters) and the sampling backends."""
