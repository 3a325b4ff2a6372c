"""GitHub's published OpenAPI subset, used as a contract by the fake GitHub.

Requests the app sends are matched to an operation and their parameters and body validated;
responses the fake serves are validated too, so neither side can drift from what GitHub
documents. The document is loaded and compiled once per process: many tests build a fake.

We validate with jsonschema (OAS 3.0 dialect from openapi-schema-validator) rather than
openapi-core because GitHub's ``checks/create`` body uses a ``discriminator`` without a
mapping over inline ``oneOf`` branches, which the OAS discriminator handling resolves to a
non-existent ``#/components/schemas/completed`` and so rejects valid bodies. Plain ``oneOf``
semantics express the rule exactly (status ``completed`` requires ``conclusion``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import FormatChecker, ValidationError
from jsonschema import _keywords as js_keywords
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import extend
from openapi_schema_validator import OAS30Validator
from openapi_schema_validator._format import is_int32, is_int64

#: ``<repo root>/../shared/github/openapi-subset.json`` (the repo may be cloned anywhere).
DEFAULT_SPEC = Path(__file__).resolve().parents[2].parent / "shared/github/openapi-subset.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAM = re.compile(r"\{([^}]+)\}")


# -- path templates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PathTemplate:
    """A compiled ``/repos/{owner}/{repo}/...`` template; ``x-multi-segment`` params span '/'."""

    template: str
    regex: re.Pattern[str]
    rank: tuple[int, int, str]

    def match(self, path: str) -> dict[str, str] | None:
        m = self.regex.fullmatch(path)
        return m.groupdict() if m else None


def compile_template(template: str, multi: Collection[str] = ()) -> PathTemplate:
    """Compile ``template``; ranking puts more literal segments first (most specific wins)."""
    parts: list[str] = []
    pos = 0
    names: list[str] = []
    for m in _PARAM.finditer(template):
        parts.append(re.escape(template[pos : m.start()]))
        name = m.group(1)
        names.append(name)
        parts.append(f"(?P<{name}>.*)" if name in multi else f"(?P<{name}>[^/]+)")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    literals = sum(1 for seg in template.split("/") if seg and "{" not in seg)
    n_multi = sum(1 for n in names if n in multi)
    return PathTemplate(template, re.compile("".join(parts)), (-literals, n_multi, template))


# -- schema validation ------------------------------------------------------------------------


def _nullable_aware(keyword: Callable[..., Iterator[ValidationError]]) -> Any:
    """``nullable: true`` admits null next to oneOf/anyOf/allOf/enum too, as GitHub means it.

    Strict OAS 3.0.3 only honours it beside ``type``, yet GitHub's schemas put it beside
    ``oneOf`` (commit.author) and ``enum`` (check-run.conclusion) and really answer null.
    """

    def check(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
        if instance is None and schema.get("nullable") is True:
            return
        yield from keyword(validator, value, instance, schema)

    return check


def _is_datetime(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        parsed = datetime.fromisoformat(instance)
    except ValueError:
        return False
    return "T" in instance and parsed.tzinfo is not None


def _is_uri(instance: object) -> bool:
    return not isinstance(instance, str) or bool(urlsplit(instance).scheme)


FORMATS = FormatChecker()
FORMATS.checks("int32")(is_int32)
FORMATS.checks("int64")(is_int64)
FORMATS.checks("date-time")(_is_datetime)
FORMATS.checks("uri")(_is_uri)

# OAS 3.0 semantics (nullable, draft-4 keywords) with plain oneOf/anyOf/allOf: see module doc.
_GitHubValidator = extend(
    OAS30Validator,
    {
        "oneOf": _nullable_aware(js_keywords.oneOf),
        "anyOf": _nullable_aware(js_keywords.anyOf),
        "allOf": _nullable_aware(js_keywords.allOf),
        "enum": _nullable_aware(js_keywords.enum),
    },
)


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _message(error: ValidationError) -> str:
    """jsonschema's message, with a huge leading instance repr replaced by a summary."""
    message, shown = error.message, repr(error.instance)
    if len(shown) > 60 and message.startswith(shown):
        size = len(error.instance) if hasattr(error.instance, "__len__") else "?"
        message = f"<{type(error.instance).__name__} of length {size}>{message[len(shown):]}"
    if isinstance(error.validator_value, int | str) and not isinstance(error.validator_value, bool):
        message += f" ({error.validator} {error.validator_value!r})"
    return _short(message)


def describe(error: ValidationError) -> str:
    """One line: where in the instance, what failed, and why each alternative failed."""
    where = "/".join(str(p) for p in error.absolute_path) or "<root>"
    message = _message(error)
    if error.context:
        reasons = sorted({_short(_message(e), 120) for e in error.context})[:4]
        message += " (" + "; ".join(reasons) + ")"
    return f"{where}: {message}"


def first_error(validator: Validator, instance: Any, limit: int = 3) -> str | None:
    """The most relevant validation errors (up to ``limit``), described, or None when valid."""
    errors = list(validator.iter_errors(instance))
    if not errors:
        return None
    best = best_match(errors)
    while best is not None and best.parent is not None:
        best = best.parent
    ordered = [best, *(e for e in errors if e is not best)] if best is not None else errors
    return "; ".join(describe(e) for e in ordered[:limit])


# -- operations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]
    validator: Validator


@dataclass(frozen=True)
class Operation:
    """One method on one path, with everything needed to check a request and a response."""

    method: str
    template: PathTemplate
    operation_id: str
    params: tuple[Param, ...]
    body_required: bool
    body: Validator | None
    responses: Mapping[str, Mapping[str, Validator | None]] = field(default_factory=dict)

    def label(self) -> str:
        return f"{self.method} {self.template.template} ({self.operation_id})"


def _coerce(raw: str, schema: Mapping[str, Any]) -> tuple[Any, str | None]:
    """Turn a query/path string into the schema's type, as GitHub's server would."""
    kind = schema.get("type")
    if kind == "integer":
        if re.fullmatch(r"-?\d+", raw):
            return int(raw), None
        return raw, f"{raw!r} is not an integer"
    if kind == "number":
        try:
            return float(raw), None
        except ValueError:
            return raw, f"{raw!r} is not a number"
    if kind == "boolean":
        if raw in ("true", "false"):
            return raw == "true", None
        return raw, f"{raw!r} is not a boolean"
    return raw, None


class Contract:
    """The compiled document: ``match`` a request, then ``check_request``/``check_response``."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self._root = _GitHubValidator(spec, format_checker=FORMATS)
        ops: list[Operation] = []
        for template, item in spec["paths"].items():
            for method, raw_op in item.items():
                if method in METHODS:
                    ops.append(self._operation(template, method.upper(), raw_op))
        self.operations = sorted(ops, key=lambda o: o.template.rank)

    def _deref(self, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in obj:
            target: Any = self.spec
            for part in obj["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            obj = target
        return obj

    def _validator(self, schema: Mapping[str, Any]) -> Validator:
        validator: Validator = self._root.evolve(schema=schema)
        return validator

    def _operation(self, template: str, method: str, op: Mapping[str, Any]) -> Operation:
        params = [self._deref(p) for p in op.get("parameters", [])]
        multi = {p["name"] for p in params if p.get("x-multi-segment")}
        compiled = tuple(
            Param(
                p["name"], p["in"], bool(p.get("required")), p.get("schema", {}),
                self._validator(p.get("schema", {})),
            )
            for p in params
        )
        body_required, body = False, None
        if "requestBody" in op:
            rb = self._deref(op["requestBody"])
            body_required = bool(rb.get("required"))
            schema = rb.get("content", {}).get("application/json", {}).get("schema")
            body = self._validator(schema) if schema is not None else None
        responses: dict[str, dict[str, Validator | None]] = {}
        for status, resp in op.get("responses", {}).items():
            content = self._deref(resp).get("content", {})
            responses[status] = {
                media: self._validator(c["schema"]) if "schema" in c else None
                for media, c in content.items()
            }
        return Operation(
            method, compile_template(template, multi), op.get("operationId", "?"),
            compiled, body_required, body, responses,
        )

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | str:
        """The operation for ``method path`` and its path params, or what is wrong."""
        found: list[tuple[Operation, dict[str, str]]] = []
        for op in self.operations:
            params = op.template.match(path)
            if params is not None:
                if op.method == method:
                    return op, params
                found.append((op, params))
        if not found:
            return f"unknown path {method} {path}: no operation in openapi-subset.json"
        template = found[0][0].template.template
        allowed = ", ".join(sorted({o.method for o, _ in found if o.template.template == template}))
        return f"wrong method {method} {path}: {template} allows {allowed}"

    def check_request(
        self, op: Operation, path_params: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> list[str]:
        """Every way the request breaks the operation's parameters and body schema."""
        errors: list[str] = []
        for p in op.params:
            source = path_params if p.location == "path" else query
            if p.location not in ("path", "query"):
                continue
            raw = source.get(p.name)
            if raw is None:
                if p.required:
                    errors.append(f"missing required {p.location} parameter {p.name!r}")
                continue
            value, problem = _coerce(raw, p.schema)
            problem = problem or first_error(p.validator, value)
            if problem:
                errors.append(f"{p.location} parameter {p.name!r}: {problem}")
        if body.strip():
            if op.body is not None:
                try:
                    data = json.loads(body)
                except ValueError:
                    errors.append("request body is not valid JSON")
                else:
                    problem = first_error(op.body, data)
                    if problem:
                        errors.append(f"request body: {problem}")
        elif op.body_required:
            errors.append("request body is required")
        return [f"{op.label()}: {e}" for e in errors]

    def check_response(self, op: Operation, status: int, media: str, body: Any) -> list[str]:
        """How a JSON response breaks the documented schema for its status (empty if fine)."""
        resp = op.responses.get(str(status), op.responses.get("default"))
        if resp is None:
            undocumented = f"{op.label()}: response status {status} is undocumented"
            return [undocumented] if status < 300 else []
        validator = resp.get(media, resp.get("application/json"))
        problem = first_error(validator, body) if validator is not None else None
        return [f"{op.label()}: response {status}: {problem}"] if problem else []


@functools.cache
def _load(path: str, mtime_ns: int) -> Contract:
    return Contract(json.loads(Path(path).read_text(encoding="utf-8")))


def load_contract(path: Path | None = None) -> Contract | None:
    """The compiled contract at ``path`` (default: the shared subset), or None if absent."""
    path = (path or DEFAULT_SPEC).resolve()
    if not path.is_file():
        return None
    return _load(str(path), path.stat().st_mtime_ns)
