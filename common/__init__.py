"""Pieces both services share: the error tree, JSON error rendering, the embedded server."""
