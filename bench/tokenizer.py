"""The real tokenizer (`tiktoken`'s o200k_base), loaded offline from the shared encoding files.

`tiktoken` downloads an encoding it does not find in its cache; here it is only ever pointed at
`../shared/tokenizers` (override with TIKTOKEN_CACHE_DIR), and when that folder or the file is
absent the caller gets the reason instead of a download.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "tokenizers"
#: tiktoken's cache key for o200k_base: the SHA-1 of its public URL (see the folder's README).
O200K_FILE = "fb374d419588a4632f3f557e76b4b70aebbca790"
ENCODING = "o200k_base"

Counter = Callable[[str], int]


def tokenizer_dir() -> Path:
    return Path(os.environ.get("TIKTOKEN_CACHE_DIR") or SHARED)


def missing_reason() -> str | None:
    """Why the real tokenizer cannot be used offline here, or None when it can."""
    folder = tokenizer_dir()
    if not (folder / O200K_FILE).is_file():
        return f"{ENCODING} encoding file not found in {folder} (tiktoken must not download it)"
    try:
        import tiktoken  # noqa: F401
    except ImportError:
        return "tiktoken is not installed (pip install -e '.[dev]')"
    return None


def o200k_encode() -> Callable[[str], list[int]]:
    """The tokens of a text as OpenAI's current models see them; call `missing_reason` first.

    Candidate code may contain "<|endoftext|>": it is encoded as text, as the API does.
    """
    reason = missing_reason()
    if reason is not None:
        raise RuntimeError(reason)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(tokenizer_dir())
    import tiktoken

    encoding = tiktoken.get_encoding(ENCODING)
    return lambda text: encoding.encode(text, disallowed_special=())


def o200k_counter() -> Counter:
    """How many tokens a text is for OpenAI's current models; call `missing_reason` first."""
    encode = o200k_encode()
    return lambda text: len(encode(text))
