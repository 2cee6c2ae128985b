"""The dedup stage: which matches are the same story."""
