"""cathx: catheter segmentation, electrode detection and line/tube position classification in X-ray images."""

__version__ = "0.1.0"
