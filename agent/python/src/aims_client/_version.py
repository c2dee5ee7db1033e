"""The package version; pyproject.toml has the same (a test checks)."""

__version__ = "0.1.0"
