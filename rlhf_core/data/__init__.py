"""Data: loaders and validation, the synthetic newsroom and its personas, saved datasets."""
