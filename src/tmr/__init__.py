"""Trustworthy Model Registry: a registry of models, datasets and code, each rated for trust."""

__version__ = "0.1.0"
