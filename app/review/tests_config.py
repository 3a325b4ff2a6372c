"""The assignment's `tests` block: hidden tests run by the organisation's private grader
workflow on GitHub Actions, whose JUnit report decides (or caps) a rubric criterion.

```yaml
tests:
  workflow: {repo: acme/graders, file: grade.yml, ref: main}
  artifact: junit            # the artifact holding JUnit XML files
  timeout_minutes: 20        # after this the review completes without test results
  criterion: correctness     # the rubric criterion the tests decide
  scoring: pass_rate         # points x passed/total; or weights: {"test_api_*": 2, "*": 1}
  weights: {}
  mode: replace              # replace the model's score for the criterion, or cap it
  candidate_sees: counts     # nothing | counts | failing_names
```
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictInt, StrictStr

from app.review.config_model import ConfigModel


def _full_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", value):
        raise ValueError(f"should be a repository as 'owner/name', got {value!r}")
    return value


def _workflow_file(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]+\.ya?ml", value):
        raise ValueError(f"should be a workflow file name such as grade.yml, got {value!r}")
    return value


class GraderWorkflow(ConfigModel):
    """A workflow in a private repository of the organisation (never the candidate's)."""

    repo: Annotated[StrictStr, AfterValidator(_full_name)]
    file: Annotated[StrictStr, AfterValidator(_workflow_file)]
    ref: Annotated[StrictStr, Field(min_length=1, max_length=255)] = "main"


class HiddenTests(ConfigModel):
    workflow: GraderWorkflow
    artifact: Annotated[StrictStr, Field(min_length=1, max_length=255)] = "junit"
    timeout_minutes: Annotated[StrictInt, Field(ge=1, le=360)] = 20
    criterion: Annotated[StrictStr, Field(min_length=1)]
    scoring: Literal["pass_rate", "weights"] = "pass_rate"
    weights: dict[StrictStr, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    mode: Literal["replace", "cap"] = "replace"
    candidate_sees: Literal["nothing", "counts", "failing_names"] = "counts"
