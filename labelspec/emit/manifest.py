"""``manifest.json``: the sha256 of every file compile wrote for a project, the spec digest and the output format.

``compile --check`` and reviewers read it to see what a compile produced and from which spec state. It lists the
project's other artefacts (never itself) by name, sorted. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from typing import Any

from labelspec.emit.header import OUTPUT_FORMAT, header_text, relative_path, spec_digest
from labelspec.spec.model import Spec


def manifest(spec: Spec, files: dict[str, bytes]) -> dict[str, Any]:
    """The manifest of ``files`` (name inside the project folder → bytes)."""
    return {
        "$comment": header_text(spec),
        "generator": "labelspec",
        "output_format": OUTPUT_FORMAT,
        "project": spec.project.id,
        "version": spec.project.version,
        "spec": {"path": relative_path(spec.path), "digest": spec_digest(spec)},
        "files": [{"path": name, "sha256": hashlib.sha256(files[name]).hexdigest(), "bytes": len(files[name])}
                  for name in sorted(files)],
    }
