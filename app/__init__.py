"""Relo Review: a GitHub App that grades coding assignments against their brief and rubric."""

__version__ = "0.1.0"
