"""The assignment's `history` block: which commit-history signals reviewers see, and the
thresholds of the ones that have any. Every signal is on unless the block switches it off.

```yaml
history:
  one_commit: true            # the whole submission arrived in one commit
  before_repository: true     # commits dated before the assignment repository existed
  clock_skew_minutes: 10      # ...by more than this (a candidate's clock may be off)
  force_push: true            # the push that delivered the head rewrote history
  after_deadline: true        # delivered after the assignment's deadline
  other_authors: true         # commits by accounts or e-mails other than the submitter's
  large_additions: true       # many lines added within minutes of the previous commit
  large_additions_lines: 1000
  large_additions_minutes: 10
```
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt

from app.review.config_model import ConfigModel


class HistorySettings(ConfigModel):
    one_commit: StrictBool = True
    before_repository: StrictBool = True
    clock_skew_minutes: Annotated[StrictInt, Field(ge=0, le=24 * 60)] = 10
    force_push: StrictBool = True
    after_deadline: StrictBool = True
    other_authors: StrictBool = True
    large_additions: StrictBool = True
    large_additions_lines: Annotated[StrictInt, Field(ge=1)] = 1000
    large_additions_minutes: Annotated[StrictInt, Field(ge=1, le=7 * 24 * 60)] = 10
