"""Developer entry points: `make run` starts a local farm with `python -m devtools.farm`."""
