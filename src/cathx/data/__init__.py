"""Data: the synthetic fluoroscopy engine, readers for real formats, transforms and torch Datasets."""
