"""A process-level emulator of Ollama's HTTP API, and the pytest fixtures that run it."""
