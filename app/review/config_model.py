"""The base of every block of the assignment config: immutable, and strict about its keys (an
unknown key is an error with a "did you mean", never silently ignored)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
