"""One reader per on-disk format, each returning cathx.structures.Sample."""
