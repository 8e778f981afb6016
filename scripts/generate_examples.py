"""Generate the data files of the example projects under specs/ (everything except the hand-written labelspec.yaml).

Usage: ``python scripts/generate_examples.py [--out ROOT] [--seed N] [--only NAME ...]``

The output is a pure function of the seed: numpy ``Generator`` streams seeded per project, explicit sorting,
LF line endings, no wall-clock time. Running it twice gives identical bytes, and tests/test_examples_generator.py
proves the committed files are what this script writes. Each project's simulation lives in
``examples_<project>.py``; shared annotator modelling and writers in ``examples_common.py`` / ``examples_files.py``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from examples_common import project_rng  # noqa: E402
from examples_files import write_project  # noqa: E402
from examples_labelstudio import write_labelstudio  # noqa: E402

DEFAULT_SEED = 20260302
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "specs"

#: name → (stream index, simulating module, calibration pass mark as in the spec, whether batch 3 is a Label Studio
#: export rather than Parquet)
PROJECTS: dict[str, tuple[int, str, float, bool]] = {
    "support-intent": (1, "examples_support", 0.80, True),
    "clinical-ner": (2, "examples_clinical", 0.70, False),
    "rlhf-preference": (3, "examples_rlhf", 0.70, False),
    "agent-trajectories": (4, "examples_agents", 0.80, False),
}


def generate(out: Path, seed: int = DEFAULT_SEED, only: tuple[str, ...] = ()) -> list[str]:
    """Write the selected projects (all by default) under ``out``; returns their names."""
    names = [n for n in PROJECTS if not only or n in only]
    for name in names:
        index, module, pass_mark, labelstudio = PROJECTS[name]
        project = importlib.import_module(module).build(project_rng(seed, index))
        write_project(out, project, pass_mark, write_labelstudio if labelstudio else None)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="root folder (default: the repository's specs/)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(PROJECTS), help="projects to write")
    args = parser.parse_args(argv)
    generate(args.out, args.seed, tuple(args.only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
