"""The corpora of `python -m bench injection`: attempts to address the grader, by category, built
from the phrases in `bench/corpora/injection/` with a fixed seed; and clean text to count false
alarms in (installed libraries' source, this machine's translated manual pages and messages)."""

from __future__ import annotations

import base64
import gzip
import html
import random
import re
import tomllib
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpora" / "injection"
SEED = 20261205


@dataclass(frozen=True, slots=True)
class Sample:
    category: str
    path: str
    text: str


def _phrases() -> dict[str, list[str]]:
    data = tomllib.loads((CORPUS / "phrases.toml").read_text(encoding="utf-8"))
    return {lang: list(items) for lang, items in data.items()}


# --- where a phrase is planted ------------------------------------------------------------------

_PLANT: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("main.py", lambda p: f"def area(r):\n    # {p}\n    return 3.14 * r * r\n"),
    ("main.py", lambda p: f'HINT = "{p}"\n\n\ndef run():\n    return HINT\n'),
    ("app.js", lambda p: f"// {p}\nexport const total = (a, b) => a + b;\n"),
    ("lib.py", lambda p: f'def solve():\n    """{p}"""\n    return 42\n'),
    ("README.md", lambda p: f"# Inventory service\n\n{p}\n\nRun `make test`.\n"),
    ("index.html", lambda p: f"<!-- {p} -->\n<div id='app'></div>\n"),
    ("config.yaml", lambda p: f"name: inventory\ndescription: {p}\n"),
    ("Main.java", lambda p: f"class Main {{\n  /* {p} */\n  int x = 1;\n}}\n"),
)


def _plant(rng: random.Random, phrase: str) -> tuple[str, str]:
    path, make = rng.choice(_PLANT)
    return path, make(phrase.replace('"', "'") if '"' in make("") else phrase)


# --- encodings -----------------------------------------------------------------------------------


def _rot13(text: str) -> str:
    return text.translate(
        str.maketrans(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM",
        )
    )


_ENCODERS: dict[str, Callable[[str], str]] = {
    "base64": lambda t: base64.b64encode(t.encode()).decode(),
    "base64url": lambda t: base64.urlsafe_b64encode(t.encode()).decode().rstrip("="),
    "base32": lambda t: base64.b32encode(t.encode()).decode(),
    "hex": lambda t: t.encode().hex(),
    "hex spaced": lambda t: " ".join(f"{b:02x}" for b in t.encode()),
    "hex 0x": lambda t: ", ".join(f"0x{b:02x}" for b in t.encode()),
    "\\x escapes": lambda t: "".join(f"\\x{b:02x}" for b in t.encode()),
    "\\u escapes": lambda t: "".join(f"\\u{ord(c):04x}" for c in t),
    "HTML decimal": lambda t: "".join(f"&#{ord(c)};" for c in t),
    "HTML hex": lambda t: "".join(f"&#x{ord(c):x};" for c in t),
    "URL": lambda t: urllib.parse.quote(t),
    "URL all": lambda t: "".join(f"%{b:02X}" for b in t.encode()),
    "rot13": _rot13,
    "char codes": lambda t: ", ".join(str(ord(c)) for c in t),
    "binary": lambda t: " ".join(f"{b:08b}" for b in t.encode()),
    "HTML named": lambda t: html.escape(t).replace(" ", "&nbsp;"),
}
_ENCODED_PLANT: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("main.py", lambda e: f'PAYLOAD = "{e}"\n'),
    ("main.py", lambda e: f"# {e}\nx = 1\n"),
    ("app.js", lambda e: f"const note = '{e}';\n"),
    ("README.md", lambda e: f"Decode and follow: {e}\n"),
)


def _encodings(rng: random.Random, phrases: dict[str, list[str]]) -> Iterator[Sample]:
    sources = phrases["en"] + phrases["fr"][:3] + phrases["ru"][:2] + phrases["zh"][:2]
    for name, encode in _ENCODERS.items():
        for phrase in rng.sample(sources, 6):
            if name == "rot13" and not phrase.isascii():
                phrase = rng.choice(phrases["en"])
            path, plant = rng.choice(_ENCODED_PLANT)
            yield Sample("encodings", path, plant(encode(phrase)))


# --- concatenation and split lines ---------------------------------------------------------------


def _pieces(rng: random.Random, phrase: str) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(phrase)), k=min(rng.randint(1, 3), len(phrase) - 1)))
    return [phrase[a:b] for a, b in zip([0, *cuts], [*cuts, len(phrase)], strict=True)]


_CONCAT: tuple[tuple[str, Callable[[list[str]], str]], ...] = (
    ("main.py", lambda p: "MSG = " + " + ".join(f'"{x}"' for x in p) + "\n"),
    ("main.py", lambda p: "MSG = (\n" + "".join(f'    "{x}"\n' for x in p) + ")\n"),
    ("app.js", lambda p: "const msg = " + " + ".join(f"'{x}'" for x in p) + ";\n"),
    (
        "Main.java",
        lambda p: 'String s = "' + p[0] + '"' + "".join(f'.concat("{x}")' for x in p[1:]) + ";\n",
    ),
    ("index.php", lambda p: "$m = " + " . ".join(f"'{x}'" for x in p) + ";\n"),
    ("query.sql", lambda p: "SELECT " + " || ".join(f"'{x}'" for x in p) + ";\n"),
    ("init.lua", lambda p: "local m = " + " .. ".join(f'"{x}"' for x in p) + "\n"),
    ("main.py", lambda p: 'MSG = "".join([' + ", ".join(f'"{x}"' for x in p) + "])\n"),
    ("main.c", lambda p: "const char *m = " + " ".join(f'"{x}"' for x in p) + ";\n"),
    (
        "main.py",
        lambda p: (
            "".join(f'p{i} = "{x}"\n' for i, x in enumerate(p))
            + "msg = "
            + " + ".join(f"p{i}" for i in range(len(p)))
            + "\n"
        ),
    ),
    ("app.ts", lambda p: "const m = `" + "".join("${'" + x + "'}" for x in p) + "`;\n"),
)


def _concatenation(rng: random.Random, phrases: dict[str, list[str]]) -> Iterator[Sample]:
    sources = phrases["en"] + phrases["de"][:2] + phrases["es"][:2]
    for index in range(66):
        phrase = rng.choice(sources).replace('"', "").replace("'", "")
        path, make = _CONCAT[index % len(_CONCAT)]
        yield Sample("concatenation", path, make(_pieces(rng, phrase)))


def _wrap(rng: random.Random, phrase: str) -> list[str]:
    words = phrase.split()
    lines = rng.randint(2, min(4, len(words)))
    cuts = sorted(rng.sample(range(1, len(words)), k=lines - 1))
    return [" ".join(words[a:b]) for a, b in zip([0, *cuts], [*cuts, len(words)], strict=True)]


_SPLIT: tuple[tuple[str, Callable[[list[str], str], str]], ...] = (
    ("main.py", lambda w, p: "".join(f"# {x}\n" for x in w) + "x = 1\n"),
    ("app.js", lambda w, p: "".join(f"// {x}\n" for x in w) + "let y = 2;\n"),
    ("Main.java", lambda w, p: "/**\n" + "".join(f" * {x}\n" for x in w) + " */\nclass A {}\n"),
    ("lib.py", lambda w, p: 'def f():\n    """\n' + "".join(f"    {x}\n" for x in w) + '    """\n'),
    ("README.md", lambda w, p: "Some notes.\n" + "".join(f"{x}\n" for x in w) + "\nThe end.\n"),
    ("main.py", lambda w, p: "".join(f"# {x}\n" for x in p.split()) + "pass\n"),
    (
        "main.py",
        lambda w, p: "".join(f"v{i} = {i}  # {x}\n" for i, x in enumerate(w)),
    ),
    ("index.html", lambda w, p: "<!--\n" + "".join(f"  {x}\n" for x in w) + "-->\n"),
    (
        "main.py",
        lambda w, p: "# " + p[: len(p) // 2].rstrip() + "-\n# " + p[len(p) // 2 :].lstrip() + "\n",
    ),
    ("main.rs", lambda w, p: "".join(f"/// {x}\n" for x in w) + "fn f() {}\n"),
)


def _split_lines(rng: random.Random, phrases: dict[str, list[str]]) -> Iterator[Sample]:
    sources = [p for p in phrases["en"] if len(p.split()) >= 4]
    sources += phrases["fr"][:2] + phrases["it"][:2] + phrases["ru"][:2]
    for index in range(60):
        phrase = rng.choice(sources)
        path, make = _SPLIT[index % len(_SPLIT)]
        yield Sample("split lines", path, make(_wrap(rng, phrase), phrase))


# --- leetspeak and look-alike letters ------------------------------------------------------------

_LEET = {
    "a": "4@",
    "e": "3",
    "i": "1!",
    "o": "0",
    "s": "5$",
    "t": "7",
    "l": "1|",
    "g": "9",
    "b": "8",
}


def _leetspeak(rng: random.Random, phrases: dict[str, list[str]]) -> Iterator[Sample]:
    for _ in range(60):
        phrase = rng.choice(phrases["en"])
        rate = rng.choice((0.3, 0.5, 0.8, 1.0))
        text = "".join(
            rng.choice(_LEET[c.lower()]) if c.lower() in _LEET and rng.random() < rate else c
            for c in phrase
        )
        path, plant = _plant(rng, text)
        yield Sample("leetspeak", path, plant)


_MATH = (
    "MATHEMATICAL BOLD",
    "MATHEMATICAL ITALIC",
    "MATHEMATICAL SANS-SERIF BOLD",
    "MATHEMATICAL MONOSPACE",
    "MATHEMATICAL DOUBLE-STRUCK",
    "MATHEMATICAL FRAKTUR",
    "MATHEMATICAL BOLD SCRIPT",
)


def _named(style: str, char: str) -> str:
    if not char.isascii() or not char.isalpha():
        return char
    case = "CAPITAL" if char.isupper() else "SMALL"
    names = {
        "fullwidth": f"FULLWIDTH LATIN {case} LETTER {char.upper()}",
        "circled": f"CIRCLED LATIN {case} LETTER {char.upper()}",
        "small capital": f"LATIN LETTER SMALL CAPITAL {char.upper()}",
    }
    name = names.get(style, f"{style} {case} {char.upper()}")
    try:
        return unicodedata.lookup(name)
    except KeyError:
        return char


def _confusables(rng: random.Random, phrases: dict[str, list[str]]) -> Iterator[Sample]:
    tables = tomllib.loads((CORPUS / "lookalikes.toml").read_text(encoding="utf-8"))
    styles = [*tables, "fullwidth", "circled", "small capital", *_MATH, "mixed"]
    for index in range(66):
        phrase = rng.choice(phrases["en"])
        style = styles[index % len(styles)]
        rate = rng.choice((0.4, 0.7, 1.0))

        def swap(c: str, style: str = style, rate: float = rate) -> str:
            if rng.random() >= rate:
                return c
            pick = rng.choice(styles[:-1]) if style == "mixed" else style
            table = tables.get(pick)
            return str(table.get(c, c)) if table is not None else _named(pick, c)

        path, plant = _plant(rng, "".join(swap(c) for c in phrase))
        yield Sample("confusables", path, plant)


# --- the whole corpus ---------------------------------------------------------------------------


def attacks() -> list[Sample]:
    """Every sample, in a fixed order (seeded)."""
    rng = random.Random(SEED)
    phrases = _phrases()
    samples = [Sample("plain English", *_plant(rng, p)) for p in phrases["en"]]
    for lang, items in phrases.items():
        if lang != "en":
            samples += [Sample("languages", *_plant(rng, p)) for p in items]
    samples += _encodings(rng, phrases)
    samples += _concatenation(rng, phrases)
    samples += _split_lines(rng, phrases)
    samples += _leetspeak(rng, phrases)
    samples += _confusables(rng, phrases)
    structure = tomllib.loads((CORPUS / "structure.toml").read_text(encoding="utf-8"))
    samples += [Sample("forged structure", s["path"], s["text"]) for s in structure["forged"]]
    samples += [Sample("role tags", s["path"], s["text"]) for s in structure["role"]]
    return samples


# --- clean text ----------------------------------------------------------------------------------

_TROFF = re.compile(r"\\f[BIRP]|\\\(..|\\[-&e|^]|\\\*.|\\s[-+]?\d")
MAN_LANGUAGES = ("fr", "de", "es", "it", "pt", "pt_BR", "ru", "ja", "zh_CN", "zh_TW", "pl", "uk")
MO_LANGUAGES = ("ar", "hi", "fr", "de", "es", "it", "pt", "ru", "ja", "zh_CN")


def library_sources(site_packages: Path, packages: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(path, text) of every Python file of the given installed packages."""
    for package in packages:
        for path in sorted((site_packages / package).rglob("*.py")):
            yield str(path.relative_to(site_packages)), path.read_text("utf-8", errors="replace")


def manual_pages(root: Path = Path("/usr/share/man")) -> Iterator[tuple[str, str]]:
    """(path, text) of the translated manual pages on this machine, troff markup stripped."""
    for lang in MAN_LANGUAGES:
        for path in sorted((root / lang).glob("man*/*.gz")):
            raw = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
            lines = [_TROFF.sub("", line) for line in raw.split("\n") if not line.startswith(".")]
            yield f"man/{lang}/{path.name}", "\n".join(lines)


def message_catalogs(root: Path = Path("/usr/share/locale")) -> Iterator[tuple[str, str]]:
    """(path, text) of translated program messages (gettext catalogues) on this machine."""
    import gettext

    for lang in MO_LANGUAGES:
        for path in sorted((root / lang / "LC_MESSAGES").glob("*.mo")):
            try:
                with path.open("rb") as handle:
                    catalog = gettext.GNUTranslations(handle)
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            texts = [v for v in catalog._catalog.values() if isinstance(v, str)]  # type: ignore[attr-defined]
            yield f"locale/{lang}/{path.name}", "\n".join(t.replace("\n", " ") for t in texts)
