"""Which files are text, by git's own rule, so that every scanner reads what the diff shows.

git (and so GitHub's patches, which the LLM reads) treats a file as binary when a NUL byte occurs
in its first 8,000 bytes (`buffer_is_binary`, `FIRST_FEW_BYTES` in git's xdiff-interface.c). A
scanner that looked further (8,192 bytes) would skip a file whose NUL sits between the two, while
its patch still reached the model.
"""

from __future__ import annotations

GIT_BINARY_PROBE = 8000


def is_binary(content: bytes) -> bool:
    """Whether git would diff `content` as binary: a NUL byte in its first 8,000 bytes."""
    return b"\x00" in content[:GIT_BINARY_PROBE]
