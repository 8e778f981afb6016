"""labelspec: label quality as a version-controlled engineering artefact."""

from __future__ import annotations

__version__ = "0.1.0"
