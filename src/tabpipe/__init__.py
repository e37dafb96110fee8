"""tabpipe: a DVC pipeline from versioned tabular data to a validated ONNX model."""

__version__ = "0.1.0"
