"""The assignment's `similarity` block: which submissions of the cohort are compared.

```yaml
similarity:
  enabled: true
  boilerplate: ["migrations/**", "**/generated/**"]   # files every solution may share
  earlier: [backend-take-home-2025]                    # earlier cohorts' assignment ids
```
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictStr

from app.review.config_model import ConfigModel


class SimilaritySettings(ConfigModel):
    enabled: StrictBool = True
    boilerplate: tuple[Annotated[StrictStr, Field(min_length=1)], ...] = ()
    earlier: tuple[Annotated[StrictStr, Field(min_length=1, max_length=128)], ...] = ()
