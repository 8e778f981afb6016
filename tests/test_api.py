"""The Python API as a notebook user calls it: strings where paths go, one path where a list goes, usage errors
as located LabelspecErrors (an audit found AttributeError/TypeError/ValueError escaping instead)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from labelspec import api
from labelspec.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "support-intent"


def test_paths_may_be_strings_and_one_path_may_stand_for_a_list(tmp_path: Path) -> None:
    labels = str(SPEC / "labels")
    one = api.check_labels(str(SPEC), labels, bootstrap=0)  # was read letter by letter: "label file s is given twice"
    many = api.check_labels(SPEC, [labels], bootstrap=0)
    assert one.to_dict()["gates"] == many.to_dict()["gates"] and one.accounting.rows_read > 0
    assert [r.path for r in api.validate_paths(str(SPEC))] == [r.path for r in api.validate_paths([SPEC])]
    assert api.compile_paths(str(SPEC), out=str(tmp_path / "gen")).written
    queue = api.adjudicate(str(SPEC), labels, out=str(tmp_path / "queue"))
    assert queue.written and (tmp_path / "queue" / "review-queue.csv").is_file()
    assert api.init_project(str(tmp_path / "new"), kind="rating")


@pytest.mark.parametrize("bootstrap", [-5, 1.5, True])
def test_a_bad_replicate_count_is_a_usage_error(bootstrap: object) -> None:
    with pytest.raises(UsageError, match="bootstrap must be a whole number"):
        api.check_labels(SPEC, [SPEC / "labels"], bootstrap=bootstrap)  # type: ignore[arg-type]


def test_init_refuses_a_dangling_link_that_would_write_outside(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    os.symlink("../escaped.yaml", folder / "labelspec.yaml")  # dangling: Path.exists() is False
    with pytest.raises(UsageError, match="already exists"):
        api.init_project(folder, kind="single_choice")
    assert not (tmp_path / "escaped.yaml").exists() and sorted(p.name for p in folder.iterdir()) == ["labelspec.yaml"]


def test_calibrate_names_a_new_roster_created_and_refuses_standard_output(tmp_path: Path) -> None:
    project = tmp_path / "si"
    shutil.copytree(SPEC, project)
    submissions = project / "calibration"
    result = api.calibrate(project, submissions, roster=tmp_path / "typo.csv")
    assert result.roster_status == "created"  # a mistyped path shows: only the scored annotators are in it
    assert api.calibrate(project, submissions, roster=tmp_path / "typo.csv").roster_status == "unchanged"
    with pytest.raises(UsageError, match="not standard output"):
        api.calibrate(project, submissions, roster="-")


def test_reading_specs_loads_no_numerical_stack() -> None:
    """validate, compile and diff read specs (and their data files, with pyarrow) only: importing the API loaded
    the check stack with scipy.stats (~1 s per command; demo audit). In a fresh interpreter, so that other tests'
    imports do not count."""
    import subprocess
    import sys

    code = ("import sys, labelspec.api, labelspec.cli; from labelspec import api; api.validate_paths(['specs']); "
            "print(sorted(m for m in ('scipy', 'labelspec.check.runner') if m in sys.modules)); "
            "api.Report; print('scipy' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert run.stdout.splitlines() == ["[]", "True"]  # api.Report still works: it loads the check on first use


def test_compile_diff_without_check_is_refused_by_the_api_too(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--diff needs --check"):
        api.compile_paths(SPEC, out=tmp_path / "gen", diff=True)
    assert not (tmp_path / "gen").exists()
