"""`python -m labelspec`."""

from __future__ import annotations

from labelspec.cli import main

if __name__ == "__main__":
    main()
