"""The assignment configuration: which repositories are assignments, and what they are graded on.

It comes only from the organisation's `.github` repository (`.github/assignment-review.yml`), never
from a submission, so a candidate cannot change their brief, rubric or where results go. Parsing is
pure (the caller fetches the text), and every problem names its line: the people fixing the file are
org admins reading a check run, not a traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    PlainSerializer,
    PlainValidator,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema
from yaml.error import Mark

from app.review.config_model import ConfigModel
from app.review.config_yaml import AssignmentConfigError as AssignmentConfigError
from app.review.config_yaml import ConfigProblem as ConfigProblem
from app.review.config_yaml import (
    Loc,
    load_yaml,
    nearest_mark,
    problem_at,
    validation_message,
)
from app.review.feedback_config import Feedback as Feedback
from app.review.history_config import HistorySettings
from app.review.models import Criterion
from app.review.reviewers_config import Reviewers
from app.review.similarity_config import SimilaritySettings
from app.review.tests_config import GraderWorkflow, HiddenTests

CONFIG_PATH = ".github/assignment-review.yml"
_VERSION_SCHEMA = "1"  # bump when the meaning of the hashed content changes


# --------------------------------------------------------------------------- globs


def _path_matches(pattern: str, path: str) -> bool:
    """Gitignore-style: `*` stays within a segment, `**` spans segments, a pattern without a slash
    matches at any depth, and a pattern matching a directory matches everything under it."""
    segments = pattern.strip("/").split("/")
    if "/" not in pattern.rstrip("/"):
        segments.insert(0, "**")
    if segments[-1] == "**":
        segments[-1:] = ["*", "**"]  # "docs/**" is what is inside docs/, not docs itself
    else:
        segments.append("**")
    return _segments_match(tuple(segments), tuple(path.removeprefix("./").lstrip("/").split("/")))


@functools.lru_cache(maxsize=4096)
def _segments_match(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_segments_match(rest, parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _segments_match(rest, parts[1:])


def _path_glob(value: str) -> str:
    if value.startswith("!"):
        raise ValueError("uses '!', which is not supported here; list the pattern under exclude")
    return value


def _repo_glob(value: str) -> str:
    if (
        value.count("/") > 1
        or value.startswith("/")
        or value.endswith("/")
        or re.search(r"\s", value)
    ):
        raise ValueError(f"should be a glob like 'task-*' or 'owner/task-*', got {value!r}")
    return value


def _slug(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", value):
        raise ValueError(f"should be lowercase letters, digits, '-' and '_' (≤64), got {value!r}")
    return value


def _full_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", value):
        raise ValueError(f"should be a repository as 'owner/name', got {value!r}")
    return value


def _relative_path(value: str) -> str:
    if value.startswith("/") or "\\" in value or ".." in value.split("/"):
        raise ValueError(f"should be a relative path inside the .github repository, got {value!r}")
    return value


def _first_duplicate(ids: Iterable[str]) -> str | None:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            return ident
        seen.add(ident)
    return None


# --------------------------------------------------------------------------- values

Text = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1)]
Slug = Annotated[StrictStr, AfterValidator(_slug)]
PositiveInt = Annotated[StrictInt, Field(gt=0)]
PathGlob = Annotated[StrictStr, Field(min_length=1), AfterValidator(_path_glob)]
RepoGlob = Annotated[StrictStr, Field(min_length=1), AfterValidator(_repo_glob)]


class _CriterionSpec(ConfigModel):
    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)

    id: Slug
    description: Text
    points: PositiveInt


def _criterion_schema(_source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
    """Validate as the strict spec (so errors keep their field location), keep models.Criterion."""
    return core_schema.no_info_after_validator_function(
        lambda spec: Criterion(spec.id, spec.description, spec.points),
        handler.generate_schema(_CriterionSpec),
        serialization=core_schema.plain_serializer_function_ser_schema(dataclasses.asdict),
    )


RubricCriterion = Annotated[Criterion, GetPydanticSchema(_criterion_schema)]


@dataclass(frozen=True, slots=True)
class Baseline:
    """Where a push review starts: the repository's first commit, a branch, or a commit."""

    kind: Literal["first-commit", "branch", "sha"] = "first-commit"
    ref: str = ""

    @classmethod
    def parse(cls, text: str) -> Baseline:
        """A SHA-looking value that is not hex is an error, not a branch: it is almost always a typo
        that would silently review the wrong range. `refs/heads/NAME` forces a branch."""
        if text == "first-commit":
            return cls()
        if text.startswith("refs/heads/"):
            return cls("branch", _branch(text.removeprefix("refs/heads/")))
        if re.fullmatch(r"[0-9a-fA-F]{7,40}", text) and any(c.isdigit() for c in text):
            return cls("sha", text.lower())
        non_hex = sum(c not in "0123456789abcdefABCDEF" for c in text)
        if re.fullmatch(r"[0-9A-Za-z]{7,40}", text) and (
            len(text) == 40 or (non_hex <= 1 and any(c.isdigit() for c in text))
        ):
            raise ValueError(
                f"{text!r} looks like a commit SHA but is not hexadecimal "
                "(write refs/heads/NAME if it is a branch)"
            )
        return cls("branch", _branch(text))

    def __str__(self) -> str:
        return self.ref or self.kind


def _branch(name: str) -> str:
    bad = re.search(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^[-/.]|[/.]$|\.lock$", name)
    if not name or bad or len(name) > 255:
        raise ValueError(f"should be 'first-commit', a branch name or a commit SHA, got {name!r}")
    return name


def _baseline(value: object) -> Baseline:
    if isinstance(value, Baseline):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"was read as the number {value}; quote a SHA made of digits")
    if not isinstance(value, str):
        raise ValueError("should be 'first-commit', a branch name or a commit SHA")
    return Baseline.parse(value)


BaselineField = Annotated[
    Baseline, PlainValidator(_baseline, json_schema_input_type=str), PlainSerializer(str)
]


class Paths(ConfigModel):
    """Which files of the change are reviewed (gitignore-style globs, relative to the repo root)."""

    include: Annotated[tuple[PathGlob, ...], Field(min_length=1)] = ("**",)
    exclude: tuple[PathGlob, ...] = ()

    def includes(self, path: str) -> bool:
        return any(_path_matches(p, path) for p in self.include) and not any(
            _path_matches(p, path) for p in self.exclude
        )


class Assignment(ConfigModel):
    """One assignment: the repositories it covers and what they are reviewed against."""

    id: Slug
    repos: Annotated[tuple[RepoGlob, ...], Field(min_length=1)]
    title: Text
    brief: Text | None = None
    brief_file: Annotated[StrictStr, AfterValidator(_relative_path)] | None = None
    baseline: BaselineField = Baseline()
    paths: Paths = Paths()
    rubric: tuple[RubricCriterion, ...] = ()
    model: Text | None = None
    instructions: Text | None = None  # extra guidance for the reviewer, from the organisation only
    max_files: PositiveInt | None = None
    feedback: Feedback = Feedback()
    reviewer_repo: Annotated[StrictStr, AfterValidator(_full_name)] | None = None
    reviewers: Reviewers = Reviewers()
    tests: HiddenTests | None = None
    history: HistorySettings = HistorySettings()
    similarity: SimilaritySettings = SimilaritySettings()
    deadline: AwareDatetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _title_defaults_to_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and "title" not in data and isinstance(data.get("id"), str):
            return {**data, "title": data["id"]}
        return data

    @field_validator("brief_file")
    @classmethod
    def _one_brief(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("brief") is not None:
            raise ValueError("cannot be set together with brief; keep one of them")
        return value

    @field_validator("rubric")
    @classmethod
    def _unique_criteria(cls, value: tuple[Criterion, ...]) -> tuple[Criterion, ...]:
        if (dup := _first_duplicate(c.id for c in value)) is not None:
            raise PydanticCustomError("duplicate_id", "repeats the criterion id {id}", {"id": dup})
        return value

    @model_validator(mode="after")
    def _tests_decide_a_criterion(self) -> Assignment:
        if self.tests is not None and self.tests.criterion not in {c.id for c in self.rubric}:
            raise ValueError(
                f"tests.criterion {self.tests.criterion!r} is not a criterion of the rubric"
            )
        return self

    def matches(self, full_name: str) -> bool:
        """Globs with a slash match "owner/name", others the bare name; GitHub names ignore case."""
        full = full_name.lower()
        name = full.rpartition("/")[2]
        return any(fnmatchcase(full if "/" in g else name, g.lower()) for g in self.repos)

    def includes(self, path: str) -> bool:
        return self.paths.includes(path)

    @property
    def total_points(self) -> int:
        return sum(c.points for c in self.rubric)

    @property
    def version(self) -> str:
        """Short hash of everything that shapes the review (not where it goes), so a cached LLM
        result is reused only for the same brief, rubric, model, paths and baseline."""
        content = {
            "title": self.title,
            "brief": self.brief,
            "brief_file": self.brief_file if self.brief is None else None,
            "instructions": self.instructions,
            "rubric": [[c.id, c.description, c.points] for c in self.rubric],
            "model": self.model,
            "paths": [list(self.paths.include), list(self.paths.exclude)],
            "baseline": str(self.baseline),
            "max_files": self.max_files,
            "tests": self.tests.model_dump(mode="json") if self.tests else None,
        }
        blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(f"{_VERSION_SCHEMA}:{blob}".encode()).hexdigest()[:12]

    def with_brief(self, text: str) -> Assignment:
        """A copy with the brief filled in, once the caller has fetched `brief_file`."""
        return self.model_copy(update={"brief": text.strip()})


class AssignmentConfig(ConfigModel):
    """The whole file. Order matters: a repository gets the first assignment that matches it."""

    assignments: tuple[Assignment, ...]

    @field_validator("assignments")
    @classmethod
    def _unique_ids(cls, value: tuple[Assignment, ...]) -> tuple[Assignment, ...]:
        if (dup := _first_duplicate(a.id for a in value)) is not None:
            raise PydanticCustomError("duplicate_id", "repeats the assignment id {id}", {"id": dup})
        return value

    def match(self, full_name: str) -> Assignment | None:
        return next((a for a in self.assignments if a.matches(full_name)), None)


DEFAULT_ASSIGNMENT = Assignment(id="default", repos=("*",), title="Code review")
"""Used only when the organisation has no config file at all: findings and a summary, no rubric."""

_MODELS = (
    AssignmentConfig, Assignment, Paths, Feedback, Reviewers, _CriterionSpec,
    HiddenTests, GraderWorkflow, HistorySettings, SimilaritySettings,
)
_KNOWN_KEYS = sorted({key for model in _MODELS for key in model.model_fields})


# --------------------------------------------------------------------------- parsing


def _duplicate_ids(data: object, positions: dict[Loc, Mark]) -> list[ConfigProblem]:
    """Checked on the raw data so that they are reported with every other problem, not only when
    the rest of the file is valid (when pydantic's own check would run)."""
    assignments = data.get("assignments") if isinstance(data, dict) else None
    if not isinstance(assignments, list):
        return []
    groups: list[tuple[Loc, str, list[Any]]] = [(("assignments",), "assignment", assignments)]
    for index, item in enumerate(assignments):
        if isinstance(item, dict) and isinstance(item.get("rubric"), list):
            groups.append((("assignments", index, "rubric"), "criterion", item["rubric"]))
    problems = []
    for prefix, what, items in groups:
        first: dict[str, int] = {}
        for index, item in enumerate(items):
            ident = item.get("id") if isinstance(item, dict) else None
            if not isinstance(ident, str):
                continue
            if ident not in first:
                first[ident] = index
                continue
            earlier = positions.get((*prefix, first[ident], "id"))
            where = f" (first on line {earlier.line + 1})" if earlier else ""
            loc = (*prefix, index, "id")
            message = f"repeats the {what} id {ident!r}{where}"
            problems.append(problem_at(loc, nearest_mark(positions, loc), message))
    return problems


def parse_config(text: str, *, source: str = CONFIG_PATH) -> AssignmentConfig:
    """Parse and validate the organisation's config; raise AssignmentConfigError listing every
    problem with its line, so one round of fixes is enough."""
    data, positions, problems = load_yaml(text, source)
    problems += _duplicate_ids(data, positions)
    try:
        config = AssignmentConfig.model_validate(data)
    except ValidationError as exc:
        errors = [e for e in exc.errors(include_url=False) if e["type"] != "duplicate_id"]
        for error in errors:
            loc = tuple(error["loc"])
            if error["type"] == "too_short" and any(
                len(other["loc"]) > len(loc) and tuple(other["loc"][: len(loc)]) == loc
                for other in errors
            ):
                continue  # "empty" only because its items were invalid: those are reported
            message = validation_message(error, _KNOWN_KEYS)
            problem = problem_at(loc, nearest_mark(positions, loc), message)
            problems.append(problem if loc else dataclasses.replace(problem, location="the file"))
        raise AssignmentConfigError(source, problems) from None
    if problems:
        raise AssignmentConfigError(source, problems)
    return config
