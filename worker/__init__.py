"""The worker service: one LLM (one GPU) behind a job queue, served over HTTP."""
