"""``SOURCE_DATE_EPOCH`` (reproducible-builds.org): the one date a release may carry instead of the clock.

One job: read and check the variable. It imports nothing heavy, because the CLI checks the variable before numpy
is imported: numpy parses it too (as scipy is imported) and fails with a bare ValueError on a bad value.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from labelspec.errors import Diagnostic, SourceLocation, UsageError

#: 9999-12-31T23:59:59Z, the last second a four-digit year can write.
LAST_SECOND = 253_402_300_799


def check_source_date_epoch(raw: str) -> int:
    """The seconds since 1970 as plain digits, up to the year 9999; anything else is a usage error (LS501)."""
    if not (raw.isascii() and raw.isdigit() and int(raw) <= LAST_SECOND):
        raise UsageError(Diagnostic("LS501", f"SOURCE_DATE_EPOCH={raw!r} is not a number of seconds since 1970 "
                                    "(plain digits, up to the year 9999)", SourceLocation("<environment>")))
    return int(raw)


def source_date() -> str | None:
    """The release date from ``SOURCE_DATE_EPOCH``, or None: never the clock."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return None
    seconds = check_source_date_epoch(raw)
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
