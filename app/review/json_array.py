"""Reading a large JSON array one element at a time.

`json.loads` of a few megabytes (ruff's report on a 3,000-file change) is one C call that holds
the GIL, and with it the event loop, for tens of milliseconds even from a worker thread. Decoding
element by element with `JSONDecoder.raw_decode` gives the GIL back between elements.
"""

from __future__ import annotations

import json
import re

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def loads(data: bytes | str) -> object:
    """`json.loads(data)`, decoding a top-level array element by element.

    Raises json.JSONDecodeError (a ValueError) for text that is not JSON, and UnicodeDecodeError
    for bytes that are not UTF-8.
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    index = _skip(text, 0)
    if text[index : index + 1] != "[":
        return json.loads(text)
    items: list[object] = []
    index = _skip(text, index + 1)
    if text[index : index + 1] != "]":
        while True:
            item, index = _DECODER.raw_decode(text, index)
            items.append(item)
            index = _skip(text, index)
            separator = text[index : index + 1]
            if separator == "]":
                break
            if separator != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
            index = _skip(text, index + 1)
    end = _skip(text, index + 1)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return items


def _skip(text: str, index: int) -> int:
    match = _SPACE.match(text, index)
    return match.end() if match else index
