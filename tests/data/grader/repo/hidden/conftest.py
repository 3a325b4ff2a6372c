"""Put the submission on the import path, after the grader's own packages.

Appending (not prepending) matters: a submission that ships its own `pytest.py` or `_pytest/`
cannot replace the test runner, because installed packages are found first.
"""

import importlib
import os
import sys
from pathlib import Path

import pytest

SUBMISSION = Path(os.environ.get("SUBMISSION_DIR", "../submission")).resolve()
if str(SUBMISSION) not in sys.path:
    sys.path.append(str(SUBMISSION))


@pytest.fixture(scope="session")
def textstats():
    """The candidate's module; a submission without it errors every test, it does not fail."""
    return importlib.import_module("textstats")
