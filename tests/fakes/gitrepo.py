"""A real git repository in a temporary directory, driven by the ``git`` CLI.

The fake GitHub serves diffs, trees and archives straight from such a repository, so tests
exercise true git output (renames, binary files, hunks) instead of hand-written fixtures.
Sync subprocesses are fine here: this is test code and every call takes milliseconds.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

# Fixed identity and config, so commits work on a machine with no git identity and a user's
# global config (gpg signing, hooks, noprefix diffs...) cannot leak into the tests.
_CONFIG = (
    "-c", "commit.gpgsign=false",
    "-c", "tag.gpgsign=false",
    "-c", "core.autocrlf=false",
    "-c", "core.quotepath=false",
    "-c", "diff.noprefix=false",
    "-c", "diff.renames=true",
    "-c", "advice.detachedHead=false",
)
_IDENTITY = {
    "GIT_AUTHOR_NAME": "Ada Candidate",
    "GIT_AUTHOR_EMAIL": "ada@example.test",
    "GIT_COMMITTER_NAME": "Ada Candidate",
    "GIT_COMMITTER_EMAIL": "ada@example.test",
}
#: First commit time (2023-11-14T22:13:20Z); each later commit is one minute after the newest
#: commit in the repository, so SHAs are deterministic across runs yet never collide.
BASE_TIME = 1_700_000_000


class GitError(RuntimeError):
    """A git command failed; carries stderr so test failures explain themselves."""


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
        LANG="C",
        **_IDENTITY,
    )
    env.update(extra or {})
    return env


class GitRepo:
    """A working copy at ``path``; ``commit`` writes files and returns the new SHA."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"GitRepo({str(self.path)!r})"

    @classmethod
    def init(cls, path: Path | str, default_branch: str = "main") -> GitRepo:
        """Create an empty repository whose unborn HEAD is ``default_branch``."""
        repo = cls(path)
        repo.path.mkdir(parents=True, exist_ok=True)
        repo.git("init", "--quiet", f"--initial-branch={default_branch}")
        return repo

    @classmethod
    def clone(cls, source: GitRepo, path: Path | str) -> GitRepo:
        """Clone ``source`` (e.g. to model a fork that shares history with it)."""
        repo = cls(path)
        subprocess.run(
            ["git", *_CONFIG, "clone", "--quiet", str(source.path), str(repo.path)],
            capture_output=True, env=_env(), check=True,
        )
        return repo

    # -- plumbing -----------------------------------------------------------------------------

    def run(
        self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run git without raising; callers that probe (does this ref exist?) use this."""
        return subprocess.run(
            ["git", *_CONFIG, *args],
            cwd=self.path, input=input, capture_output=True, env=_env(env), check=False,
        )

    def git_bytes(self, *args: str, env: Mapping[str, str] | None = None) -> bytes:
        """Run git and return stdout; raise GitError with stderr on failure."""
        proc = self.run(*args, env=env)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise GitError(f"git {' '.join(args)} failed ({proc.returncode}): {err}")
        return proc.stdout

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run git and return stdout as text."""
        return self.git_bytes(*args, env=env).decode("utf-8", errors="replace")

    # -- porcelain ----------------------------------------------------------------------------

    def resolve(self, ref: str) -> str | None:
        """The commit SHA ``ref`` names (branch, tag, ``heads/x``, SHA...), or None."""
        if not ref or ref.startswith("-"):
            return None
        proc = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if proc.returncode != 0:
            return None
        return proc.stdout.decode().strip() or None

    def rev(self, ref: str) -> str:
        """The commit SHA of ``ref``; raises GitError when it does not exist."""
        sha = self.resolve(ref)
        if sha is None:
            raise GitError(f"unknown revision {ref!r} in {self.path}")
        return sha

    def current_branch(self) -> str:
        """The branch HEAD points at (also for an unborn branch)."""
        return self.git("symbolic-ref", "--short", "HEAD").strip()

    def has_branch(self, branch: str) -> bool:
        """Whether ``refs/heads/<branch>`` exists."""
        return self.run("show-ref", "--verify", "--quiet", f"refs/heads/{branch}").returncode == 0

    def checkout(self, branch: str, create: bool = False) -> None:
        """Switch to ``branch``; with ``create`` make it from the current HEAD first."""
        self.git("checkout", "--quiet", *(["-b"] if create else []), branch)

    def commit(
        self,
        files: Mapping[str, str | bytes | None],
        message: str,
        branch: str | None = None,
    ) -> str:
        """Write ``files`` (None deletes), commit everything on ``branch`` and return the SHA.

        A missing ``branch`` is created from the current HEAD. Commits always succeed (empty
        ones included) so a test can push "nothing" and still get a new head SHA.
        """
        if branch is not None and branch != self.current_branch():
            self.checkout(branch, create=not self.has_branch(branch))
        added: list[str] = []
        for rel, content in files.items():
            target = self.path / rel
            if content is None:
                self.git("rm", "--quiet", "--cached", "--ignore-unmatch", "--", rel)
                target.unlink(missing_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
            added.append(rel)
        if added:
            self.git("add", "--force", "--", *added)
        stamp = f"@{self._next_time()} +0000"
        dates = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        self.git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", message, env=dates)
        return self.rev("HEAD")

    def _next_time(self) -> int:
        proc = self.run("log", "--all", "-1", "--format=%ct")
        last = proc.stdout.decode().strip() if proc.returncode == 0 else ""
        return max(BASE_TIME, int(last) + 60) if last else BASE_TIME
