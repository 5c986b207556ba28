"""keyscan: find leaked API keys and credentials."""

__version__ = "0.1.0"
