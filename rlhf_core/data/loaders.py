"""Read ratings, preference pairs, demonstrations and article lists from files or uploaded bytes.

Every file goes through four steps. Any problem stops it with a `DataError` naming the file, the
line (1-based, as an editor shows it: the header is line 1) and the column, so a rejected file is
never imported half-way:

1. bytes -> text   size cap; binary check (NUL bytes); UTF-8, UTF-8 with BOM, UTF-16 with BOM;
                   Windows-1252 / Latin-1 only when the result reads as plain text (with a warning).
2. text -> rows    the seed's `text<TAB>score` lines, CSV / TSV (delimiter read from the header line,
                   strict quoting), or JSON lines (one object a line; a JSON list also works).
3. rows -> kind    a user mapping {our_column: their_column}, then the usual names (the seed's
                   text = article, title = headline; TRL's prompt / chosen / rejected); the kind
                   (ratings / preferences / demonstrations / articles) follows from the columns.
4. rows -> table   every cell checked; scores normalised to [0, 1] from their scale (1-5, 0-1, 0-10
                   or as stated), the raw score kept; long texts truncated and duplicate rows
                   dropped, each with a warning.

The result is a `LoadedData` holding one of the canonical tables of `rlhf_core.data.schema`.

Memory stays bounded (a 25 MB upload of short rows peaks well under 600 MB, bench/bench_upload_memory.py):
step 2 checks the whole file's structure in a first pass that keeps no rows, step 4 reads the rows
again in a second pass, CHUNK_ROWS at a time, and turns each chunk into compact columns (pandas'
Arrow strings, float arrays) before reading the next. A per-row dict for every row of the file,
the old way, cost 30 to 100 times the file's size. `read_columns` reads only the file's head.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pandas as pd

from rlhf_core.data.schema import COLUMNS, DATA_KINDS, KINDS, LoadedData
from rlhf_core.errors import ConfigError, DataError

MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # larger files are refused before they are read
MAX_ARTICLE_CHARS = 4000  # articles / prompts longer than this are truncated (with a warning)
MAX_HEADLINE_CHARS = 300  # headlines, chosen / rejected, references likewise
KNOWN_SCALES = ((1.0, 5.0), (0.0, 1.0), (0.0, 10.0))
EXPERT_WEIGHT = 2.0  # the seed trains on expert data with weight x2

# Our column names and the file column names (lower case) that mean the same thing.
ALIASES: dict[str, tuple[str, ...]] = {
    "article": ("article", "text", "content", "body"),
    "headline": ("headline", "title"),
    "score": ("score", "rating"),
    "prompt": ("prompt",),
    "chosen": ("chosen",),
    "rejected": ("rejected",),
    "margin": ("margin",),
    "weight": ("weight",),
    "is_expert": ("is_expert", "expert"),
    "reference": ("reference", "reference_headline"),
    "article_id": ("article_id", "id"),
    "source": ("source",),
}
REQUIRED = {k.name: k.required for k in DATA_KINDS.values()}  # declared once, in rlhf_core.data.schema
EXPECTED = {k.name: k.expected for k in DATA_KINDS.values()}
USED = {k.name: k.used for k in DATA_KINDS.values()}
_LONG_COLUMNS = {"article", "prompt"}
_TRUE = {"1", "true", "yes", "y", "t", "x", "1.0"}
_FALSE = {"0", "false", "no", "n", "f", "", "0.0"}
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_TYPOGRAPHY = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u20ac\u00a3\u00b0\u00ab\u00bb\u00a0\u00b7"  # curly quotes, dashes, ...
_SINGLE_COLUMN = "\x1f"  # ASCII unit separator: one-column files keep their commas
CHUNK_ROWS = 20000  # rows read (as Python dicts) before they are packed into columns
_TEXT_DTYPE = pd.Series(["text"]).dtype  # pandas' own string dtype: Arrow-backed ("str") in pandas 3
HEADER_BYTES = 256 * 1024  # what read_columns reads of a file: its header and first rows


@dataclass
class _Rows:
    """Step 2's output: the file's own column names and a way to read its rows again, each with its
    real line number (the rows are not kept: `rows()` parses them anew, one at a time)."""

    file: str
    header: list[str]
    rows: Callable[[], Iterator[tuple[int, dict[str, Any]]]]
    count: int
    fmt: str  # "seed-lines" | "csv" | "json"
    delimiter: str | None = None
    header_line: int = 1


# ---------------------------------------------------------------------------------------------
# Public entry points


def load_file(path, kind: str | None = None, mapping: Mapping[str, str] | None = None, scale=None) -> LoadedData:
    """Load and validate a data file.

    Args:
        path: a .txt (text<TAB>score), .csv, .tsv, .jsonl or .json file.
        kind: "ratings" | "preferences" | "demonstrations" | "articles"; None detects it from the columns.
        mapping: {our_column: their_column} for files with other column names, e.g. {"headline": "Title"}.
        scale: (lo, hi) of the raw scores; None detects 1-5, 0-1 or 0-10.
    Returns:
        LoadedData with the canonical table, the score scale and the warnings.
    Raises:
        DataError naming the file, line and column of the first problem.
    """
    path = Path(path)
    label = str(path)
    if not path.is_file():
        raise DataError("no such file" if not path.exists() else "this is a folder, not a file", file=label)
    size = path.stat().st_size
    _check_size(size, label)
    return _load(label, path.read_bytes(), kind, mapping, scale, source=path.name)


def load_bytes(name: str, data: bytes, kind: str | None = None, mapping: Mapping[str, str] | None = None,
               scale=None) -> LoadedData:
    """Like `load_file` for uploaded bytes; `name` (the upload's file name) picks the format and labels errors."""
    name = str(name or "upload")
    _check_size(len(data), name)
    return _load(name, bytes(data), kind, mapping, scale, source=Path(name).name)


def read_columns(name: str, data: bytes) -> list[str]:
    """The column names of an upload as written in its header (for a column-mapping form).

    Reads only the first HEADER_BYTES (whole lines): a page calls this on every rerun, and the
    header is all it needs. (JSON lines: the keys of the objects in that head.)
    """
    name = str(name or "upload")
    _check_size(len(data), name)
    head = bytes(data[:HEADER_BYTES])
    if len(data) > HEADER_BYTES and b"\n" in head:
        head = head[: head.rfind(b"\n") + 1]
    warnings: list[str] = []
    text = _decode(head, name, warnings)
    return list(_parse(name, text, warnings, header_only=True).header)


# ---------------------------------------------------------------------------------------------
# Step 1: bytes -> text


def _check_size(size: int, label: str) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise DataError(
            f"the file is {size / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB. "
            "Split it into smaller files or keep fewer rows.",
            file=label,
        )


def _decode(data: bytes, label: str, warnings: list[str]) -> str:
    """Bytes to text, refusing binary files and bytes that do not read as text in any safe encoding."""
    if not data or data.isspace():
        raise DataError("the file is empty", file=label)
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                       (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(codec)
            except UnicodeDecodeError as exc:
                raise DataError(f"the file starts with a {codec.upper()} byte-order mark but its bytes are not "
                                f"valid {codec.upper()} (byte offset {exc.start + len(bom)})", file=label) from None
            warnings.append(f"read as {codec.upper()} (from its byte-order mark), not UTF-8")
            return _check_text(text, label)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        raise DataError(_binary_reason(data), file=label)
    try:
        return _check_text(data.decode("utf-8"), label)
    except UnicodeDecodeError as exc:
        bad_line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        position = len(data[line_start:exc.start].decode("utf-8", errors="replace")) + 1
        bad = data[exc.start:exc.start + 1].hex()
    for codec, name in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if _plausible_text(text):
            warnings.append(f"the file is not UTF-8; read it as {name}: check accented letters in the preview")
            return _check_text(text, label)
    raise DataError(
        f"byte 0x{bad} at character {position} is not valid UTF-8 and the file does not read as text in any "
        "other common encoding: save it as UTF-8 and upload it again",
        file=label, line=bad_line,
    )


def _binary_reason(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04"):
        return "this is a ZIP archive (an Excel .xlsx file?), not a text file: export it as CSV"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "this is an old Excel / Office file, not a text file: export it as CSV"
    head = data[:4096]
    if len(head) >= 4 and head[1::2].count(0) > 0.4 * len(head[1::2]):
        return "the file looks like UTF-16 without a byte-order mark: save it as UTF-8"
    return "this is a binary file (it contains NUL bytes), not a text file"


def _plausible_text(text: str) -> bool:
    """True when a single-byte decoding reads like prose: no control characters, few odd symbols."""
    if re.search("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]", text):
        return False
    non_ascii = re.findall("[^\x00-\x7f]", text)
    if not non_ascii:
        return True
    usual = sum(c.isalpha() or c in _TYPOGRAPHY for c in non_ascii)
    return len(non_ascii) <= 0.3 * len(text) and usual >= 0.8 * len(non_ascii)


def _check_text(text: str, label: str) -> str:
    if "\x00" in text:
        raise DataError("this is a binary file (it contains NUL characters), not a text file", file=label)
    if not text or text.isspace():
        raise DataError("the file is empty", file=label)
    return text


# ---------------------------------------------------------------------------------------------
# Step 2: text -> rows


def _parse(label: str, text: str, warnings: list[str], header_only: bool = False) -> _Rows:
    """Check the whole file's structure (one pass, keeping no rows) and return how to read its rows.

    header_only: stop once the header is known (the column-mapping form), tolerating a cut-off end.
    """
    suffix = Path(label).suffix.lower()
    start = re.search(r"\S", text)
    first = text[start.start()] if start else ""
    if suffix in {".jsonl", ".ndjson", ".json"} or first in {"{", "["}:
        return _parse_json(label, text, header_only)
    first_line = next(line for _, line in _iter_lines(text) if line.strip())
    if _is_seed_line(first_line):
        return _parse_seed_lines(label, text)
    return _parse_delimited(label, text, suffix, warnings, header_only)


def _iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """(number, line) as an editor numbers them (\n, \r\n), one at a time; str.splitlines would
    also split on \x0b, \u2028... and build a list of every line at once."""
    number, position, end = 0, 0, len(text)
    while position < end:
        newline = text.find("\n", position)
        stop = end if newline < 0 else newline
        number += 1
        line = text[position:stop]
        yield number, line[:-1] if line.endswith("\r") else line
        position = stop + 1
    if text.endswith("\n") or not text:
        yield number + 1, ""


_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _physical_lines(text: str) -> Iterator[str]:
    """Lines with their endings, split on \r\n, \r or \n: what io.StringIO(text, newline="") gives the
    csv reader, without StringIO's copy of the whole text at 4 bytes a character."""
    for match in _PHYSICAL_LINE.finditer(text):
        yield match.group()


def _is_seed_line(line: str) -> bool:
    """The seed's headerless `text<TAB>score` line: a tab, and a number after the last tab."""
    if "\t" not in line:
        return False
    text, score = line.rstrip("\r").rsplit("\t", 1)
    if text.strip().lower() in {a for names in ALIASES.values() for a in names}:
        return False
    try:
        float(score.strip())
    except ValueError:
        return False
    return True


def _parse_seed_lines(label: str, text: str) -> _Rows:
    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, line in _iter_lines(text):
            if not line.strip():
                continue
            if "\t" not in line:
                raise DataError("expected `text<TAB>score` (like the other lines) but this line has no tab",
                                file=label, line=number)
            headline, score = line.rsplit("\t", 1)
            yield number, {"text": headline, "score": score}

    count = sum(1 for _ in rows())
    return _Rows(label, ["text", "score"], rows, count, "seed-lines", "\t", header_line=0)


def _json_error(label: str, exc: BaseException, line: int | None, column: str | None = None) -> DataError:
    """A DataError for what json refuses beyond syntax: nesting too deep for the parser, integers
    with more digits than Python converts (4,300), and keys that appear twice."""
    if isinstance(exc, _DuplicateKey):
        return DataError(f"key '{exc.args[0]}' appears twice in this object", file=label, line=line,
                         column=exc.args[0])
    if isinstance(exc, RecursionError):
        return DataError("the JSON is nested too deeply (lists or objects inside each other hundreds of levels "
                         "deep); each record must be a flat object of texts and numbers", file=label, line=line)
    if "integer string conversion" in str(exc):
        return DataError("invalid JSON: a number has more digits than can be read (over 4,300)", file=label, line=line)
    return DataError(f"invalid JSON: {str(exc).split(';')[0][:200]}", file=label, line=line)


def _parse_json(label: str, text: str, header_only: bool = False) -> _Rows:
    """JSON lines (one object per line), or a single JSON list of objects."""
    listed = re.match(r"\s*\[", text) is not None

    def items() -> Iterator[tuple[int, Any]]:
        if listed:
            yield from _json_list_items(label, text)
            return
        for number, line in _iter_lines(text):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line, object_pairs_hook=_no_duplicate_keys)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg} (character {exc.colno}); each line must be one JSON object",
                                file=label, line=number) from None
            except (_DuplicateKey, RecursionError, ValueError) as exc:
                raise _json_error(label, exc, number) from None

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, value in items():
            if not isinstance(value, dict):
                raise DataError(f"expected a JSON object such as {{\"prompt\": ..., \"chosen\": ..., \"rejected\": ...}}, "
                                f"found {type(value).__name__}", file=label, line=number)
            yield number, value

    header: list[str] = []
    seen: set[str] = set()
    count = 0
    try:
        for _, value in rows():
            count += 1
            for key in value:
                if key not in seen:
                    seen.add(key)
                    header.append(key)
    except DataError:
        if not (header_only and count):  # the head of a file may end in a cut-off record
            raise
    _check_duplicate_columns(label, header, line=None)
    if not count:
        raise DataError("the JSON file holds no records", file=label)
    return _Rows(label, header, rows, count, "json", header_line=0)


def _json_list_items(label: str, text: str) -> Iterator[tuple[int, Any]]:
    """The items of one JSON list, each with the line it starts on (decoded one by one for that)."""
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)
    position = text.index("[") + 1
    line, counted = 1, 0  # line numbers counted incrementally (counting from 0 for each item is quadratic)
    first = True
    try:
        while True:
            while position < len(text) and text[position] in " \t\r\n":
                position += 1
            if position < len(text) and text[position] == "]" and first:
                break
            line += text.count("\n", counted, position)
            counted = position
            value, position = decoder.raw_decode(text, position)
            first = False
            yield line, value
            while position < len(text) and text[position] in " \t\r\n":
                position += 1
            if position < len(text) and text[position] == ",":
                position += 1
                continue
            if position < len(text) and text[position] == "]" and not text[position + 1:].strip():
                break
            raise json.JSONDecodeError("expected ',' or ']' after a list item", text, position)
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg} (character {exc.colno})", file=label, line=exc.lineno) from None
    except (_DuplicateKey, RecursionError, ValueError) as exc:
        raise _json_error(label, exc, line + text.count("\n", counted, position)) from None


class _DuplicateKey(Exception):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _parse_delimited(label: str, text: str, suffix: str, warnings: list[str], header_only: bool = False) -> _Rows:
    delimiter = _pick_delimiter(text, suffix, warnings)
    quoting = csv.QUOTE_MINIMAL
    if delimiter == "\t" and not re.search(r'(^|\t)"', text, flags=re.MULTILINE):
        quoting = csv.QUOTE_NONE  # plain TSV: a quote is just a character in a headline
    # Long articles are truncated later, with a warning, rather than refused by csv's 128 kB cell limit.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_UPLOAD_BYTES))

    def records() -> Iterator[tuple[int, list[str] | None, list[str]]]:
        """(line, header or None, fields) of every non-empty record; the header's own line comes first."""
        reader = csv.reader(_physical_lines(text), delimiter=delimiter, quoting=quoting, strict=True)
        header: list[str] | None = None
        record_start = 1
        try:
            for fields in reader:
                line, record_start = record_start, reader.line_num + 1
                if not any(f.strip() for f in fields):
                    yield line, None, fields  # an empty row: counted, skipped
                    continue
                if header is None:
                    header = [f.strip() for f in fields]
                    _check_duplicate_columns(label, header, line)
                    yield line, header, fields
                    continue
                if len(fields) > len(header) and not any(f.strip() for f in fields[len(header):]):
                    fields = fields[: len(header)]  # trailing delimiters, as spreadsheets write them
                if len(fields) != len(header):
                    _raise_field_count(label, line, header, fields, delimiter)
                yield line, header, fields
        except csv.Error as exc:
            if "end of data" in str(exc):
                raise DataError("broken quoting: a quoted field that starts on this line is never closed", file=label,
                                line=record_start) from None
            started = f" (in the row that starts on line {record_start})" if record_start != reader.line_num else ""
            raise DataError(f"broken quoting: {exc}{started}; a quote inside a text must be doubled (\"\")", file=label,
                            line=reader.line_num) from None

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        header_seen = False
        for line, header, fields in records():
            if header is None:
                continue
            if not header_seen:
                header_seen = True
                continue
            yield line, dict(zip(header, fields))

    header: list[str] | None = None
    header_line, count, empty_rows = 1, 0, 0
    for line, found, fields in records():
        if found is None:
            empty_rows += bool(fields)
        elif header is None:
            header, header_line = found, line
            if header_only:
                break
        else:
            count += 1
    if header is None:
        raise DataError("the file is empty", file=label)
    if not count and not header_only:
        raise DataError(f"the file has a header (line {header_line}: {', '.join(header)}) but no data rows", file=label,
                        line=header_line)
    if empty_rows:
        warnings.append(f"skipped {empty_rows} empty row(s)")
    unnamed = [i for i, name in enumerate(header, start=1) if not name]
    if unnamed:
        names = ", ".join(map(str, unnamed))
        warnings.append(f"ignored column(s) {names}: no name in the header (a spreadsheet index?)")
    return _Rows(label, header, rows, count, "csv", delimiter, header_line)


def _pick_delimiter(text: str, suffix: str, warnings: list[str]) -> str:
    """The delimiter that splits the header line into the most fields (ties go to the extension's)."""
    header_line = next(line for _, line in _iter_lines(text) if line.strip())
    default = "\t" if suffix in {".tsv", ".tab", ".txt"} else ","
    candidates = [default] + [d for d in (",", "\t", ";", "|") if d != default]
    counts = {d: len(next(csv.reader([header_line], delimiter=d), [])) for d in candidates}
    best = max(candidates, key=lambda d: counts[d])  # max keeps the first of equals: the default wins ties
    if counts[best] <= 1:
        return _SINGLE_COLUMN
    if best != default and (best in ";|" or suffix in {".csv", ".tsv"}):
        warnings.append(f"read as {_DELIMITER_NAMES[best]}-separated values (not {_DELIMITER_NAMES[default]})")
    return best


def _raise_field_count(label: str, line: int, header: list[str], fields: list[str], delimiter: str):
    names = ", ".join(h or "?" for h in header)
    message = f"expected {len(header)} fields ({names}) but found {len(fields)}"
    column = None
    if len(fields) > len(header):
        shown = "tab" if delimiter == "\t" else f"'{delimiter}'"
        message += f": a text probably contains an unquoted {shown}; put the text in double quotes"
    else:
        column = header[len(fields)]
        message += f": the '{column}' value is missing"
    raise DataError(message, file=label, line=line, column=column)


def _check_duplicate_columns(label: str, header: list[str], line: int | None) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        key = name.strip().lower()
        if not key:
            continue
        if key in seen:
            raise DataError(f"column '{name}' appears twice (columns {seen[key]} and {position}); keep one",
                            file=label, line=line, column=name)
        seen[key] = position


# ---------------------------------------------------------------------------------------------
# Step 3: rows -> kind (which file column plays which role)


def _resolve(parsed: _Rows, kind: str | None, mapping: Mapping[str, str] | None,
             warnings: list[str]) -> tuple[str, dict[str, str]]:
    """Return (kind, {our_column: file_column})."""
    label, line = parsed.file, (parsed.header_line or None)
    if parsed.fmt == "seed-lines":
        if kind not in (None, "ratings"):
            raise DataError(f"`text<TAB>score` lines are ratings, not {kind}", file=label, line=1)
        warnings.append("`text<TAB>score` lines have no article: each headline is rated on its own (article = \"\")")
        return "ratings", {"headline": "text", "score": "score"}

    by_lower = {name.strip().lower(): name for name in parsed.header if name.strip()}
    roles: dict[str, str] = {}
    for ours, theirs in (mapping or {}).items():
        if not theirs:
            continue
        if ours not in ALIASES:
            raise ConfigError(f"cannot map to '{ours}': our columns are {', '.join(ALIASES)}")
        if str(theirs).strip().lower() not in by_lower:
            raise DataError(f"the mapping takes '{ours}' from column '{theirs}', but the file has columns: "
                            f"{', '.join(parsed.header)}", file=label, line=line, column=str(theirs))
        roles[ours] = by_lower[str(theirs).strip().lower()]
    used = set(roles.values())
    for ours, names in ALIASES.items():
        if ours in roles:
            continue
        found = [by_lower[n] for n in names if n in by_lower and by_lower[n] not in used]
        if len(found) > 1:
            raise DataError(f"columns '{found[0]}' and '{found[1]}' both look like the {ours}: remove one or map "
                            f"'{ours}' to the one you mean", file=label, line=line, column=found[1])
        if found:
            roles[ours] = found[0]
            used.add(found[0])

    if kind is None:
        kind = _detect_kind(roles, parsed)
    # Fill roles the kind names differently: prompt = article (TRL), reference = title (article lists).
    if kind == "preferences" and "prompt" not in roles and "article" in roles:
        roles["prompt"] = roles.pop("article")
    if kind == "articles" and "reference" not in roles and "headline" in roles:
        roles["reference"] = roles.pop("headline")
    if kind == "ratings" and "headline" not in roles and roles.get("article", "").lower() == "text":
        roles["headline"] = roles.pop("article")  # the seed's text,score: text is the headline
        warnings.append("no headline column: 'text' is read as the headline (as in the seed's text<TAB>score), "
                        "article = \"\"")
    elif kind == "ratings" and "article" not in roles and "headline" in roles:
        warnings.append("no article column: each headline is rated on its own (article = \"\")")
    missing = [c for c in REQUIRED[kind] if c not in roles]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)} for {kind}: expected {EXPECTED[kind]}; "
                        f"found: {', '.join(parsed.header) or 'nothing'}", file=label, line=line, column=missing[0])
    roles = {ours: theirs for ours, theirs in roles.items() if ours in USED[kind]}
    ignored = [h for h in parsed.header if h.strip() and h not in roles.values()]
    if ignored:
        warnings.append(f"ignored column(s) not used for {kind}: {', '.join(ignored)}")
    return kind, roles


def _detect_kind(roles: dict[str, str], parsed: _Rows) -> str:
    if "chosen" in roles or "rejected" in roles:
        return "preferences"
    if "score" in roles:
        return "ratings"
    if "reference" in roles:
        return "articles"
    if "headline" in roles:
        return "demonstrations"
    if "article" in roles:
        return "articles"
    hint = " (the first line is read as the header)" if parsed.fmt == "csv" else ""
    raise DataError(
        "cannot tell what kind of data this is from its columns "
        f"{', '.join(parsed.header)}{hint}. Expected one of: "
        + "; ".join(f"{kind} ({columns})" for kind, columns in EXPECTED.items())
        + ". Rename the columns or give a column mapping.",
        file=parsed.file, line=parsed.header_line or None,
    )


# ---------------------------------------------------------------------------------------------
# Step 4: rows -> canonical table


class _Problems:
    """Counts every bad cell, then raises the first (in line order) with a count of the others.

    Only the first problem is kept (a file bad on every one of its million rows must not hold a
    million messages); ties on a line keep the one found first.
    """

    def __init__(self, label: str):
        self.label, self.first, self.count = label, None, 0

    def add(self, line: int | None, column: str | None, message: str, times: int = 1) -> None:
        item = (line or 0, column, message)
        if self.first is None or item[0] < self.first[0]:
            self.first = item
        self.count += times

    def __bool__(self) -> bool:
        return self.count > 0

    def raise_if_any(self) -> None:
        if not self.count:
            return
        line, column, message = self.first
        if self.count > 1:
            message += f" ({self.count - 1} more problem(s) in this file)"
        raise DataError(message, file=self.label, line=line or None, column=column)


def _text(value: Any, line: int, column: str, problems: _Problems, required: bool = True, reply: bool = False) -> str:
    """A stripped string; `reply` takes the last message of TRL's conversational format, else joins them."""
    if isinstance(value, list):  # TRL's conversational format: [{"role": ..., "content": ...}, ...]
        parts = [m.get("content") for m in value if isinstance(m, dict) and isinstance(m.get("content"), str)]
        if parts and len(parts) == len(value):
            value = parts[-1] if reply else "\n".join(parts)
    if value is None:
        value = ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.add(line, column, f"expected text, found {type(value).__name__}")
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        value = ""
    text = str(value).strip()
    if not text and required:
        problems.add(line, column, f"the '{column}' text is empty")
    return text


def _number(value: Any, line: int, column: str, problems: _Problems, decimal_comma: bool) -> float | None:
    """A finite float, or None after recording why not."""
    if isinstance(value, bool) or isinstance(value, (list, dict)):
        problems.add(line, column, f"{column} must be a number, found {type(value).__name__}")
        return None
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.add(line, column, f"the {column} is missing")
        return None
    if isinstance(value, str):
        text = value.strip()
        if decimal_comma and re.fullmatch(r"[-+]?\d+,\d+", text):
            text = text.replace(",", ".")
        try:
            number = float(text)
        except ValueError:
            problems.add(line, column, f"{column} '{text[:40]}' is not a number")
            return None
    else:
        try:
            number = float(value)
        except OverflowError:  # a JSON integer of hundreds of digits
            problems.add(line, column, f"{column} is a number too large to use ({len(str(value))} digits)")
            return None
    if math.isnan(number):
        problems.add(line, column, f"{column} is NaN (not a number)")
        return None
    if math.isinf(number):
        problems.add(line, column, f"{column} is infinite")
        return None
    return number


def _flag(value: Any, line: int, column: str, problems: _Problems) -> bool:
    text = str(value).strip().lower() if value is not None else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    problems.add(line, column, f"'{value}' is not yes/no (use true/false, yes/no or 1/0)")
    return False


class _Cells:
    """Reads a row's cells by our column names; problems are recorded under the file's column names."""

    def __init__(self, roles: dict[str, str], problems: _Problems, decimal_comma: bool):
        self.roles, self.problems, self.decimal_comma = roles, problems, decimal_comma

    def name(self, ours: str) -> str:
        return self.roles.get(ours, ours)

    def raw(self, row: dict, ours: str) -> Any:
        return row.get(self.roles[ours]) if ours in self.roles else None

    def text(self, row: dict, line: int, ours: str) -> str:
        return _text(self.raw(row, ours), line, self.name(ours), self.problems, required=ours != "reference",
                     reply=ours in ("chosen", "rejected"))

    def number(self, row: dict, line: int, ours: str, default: float | None = None) -> float | None:
        """The cell as a finite float; an empty optional cell gives `default`."""
        value = self.raw(row, ours)
        if default is not None and (value is None or not str(value).strip()):
            return default
        return _number(value, line, self.name(ours), self.problems, self.decimal_comma)

    def add(self, line: int, ours: str, message: str) -> None:
        self.problems.add(line, self.name(ours), message)


def _read_record(kind: str, cells: _Cells, text_columns: list[str], line: int, row: dict, source: str) -> dict:
    """One canonical row (without the normalised score, which needs every row's raw score first)."""
    record: dict[str, Any] = {ours: cells.text(row, line, ours) for ours in text_columns}
    if kind == "ratings":
        record["score_raw"] = cells.number(row, line, "score")
    if kind == "preferences":
        if record["chosen"] and record["chosen"] == record["rejected"]:
            cells.add(line, "rejected", "chosen and rejected are identical: a preference needs two different texts")
        record["margin"] = cells.number(row, line, "margin", default=0.0)
        if record["margin"] is not None and record["margin"] < 0:
            cells.add(line, "margin", f"margin {record['margin']:g} is negative: it must be >= 0")
    if kind == "articles":
        record["article_id"] = _plain(cells.raw(row, "article_id"))
        return record
    expert = "is_expert" in cells.roles and _flag(cells.raw(row, "is_expert"), line, cells.name("is_expert"),
                                                  cells.problems)
    record["weight"] = cells.number(row, line, "weight", default=EXPERT_WEIGHT if expert else 1.0)
    if record["weight"] is not None and record["weight"] <= 0:
        cells.add(line, "weight", f"weight {record['weight']:g} must be a positive number")
    record["source"] = _plain(cells.raw(row, "source")) or source
    return record


def _plain(value: Any) -> str:
    return "" if value is None else str(value).strip()


_NUMBERS = ("score_raw", "margin", "weight")


def _build(parsed: _Rows, kind: str, roles: dict[str, str], scale, source: str, warnings: list[str]) -> LoadedData:
    import numpy as np

    # 1. read and check every cell, CHUNK_ROWS rows at a time; each chunk goes into columns at once
    #    (numbers into arrays sized from step 2's row count, texts into pandas' compact strings).
    #    After the first bad cell nothing more is stored, but every row is still checked (to count them).
    problems = _Problems(parsed.file)
    cells = _Cells(roles, problems, decimal_comma=parsed.delimiter == ";")
    optional_text = {("ratings", "article"), ("articles", "reference")}
    text_columns = [c for c in ("article", "headline", "prompt", "chosen", "rejected", "reference")
                    if c in REQUIRED[kind] or (c in roles and (kind, c) in optional_text)]
    stored = [c for c in COLUMNS[kind] if c != "score"]  # the normalised score needs every raw score first
    identity = _identity_columns(kind)
    absent = [c for c in ("article", "reference") if c in COLUMNS[kind] and c not in text_columns]  # "" in every row
    numbers = {c: np.empty(parsed.count, dtype=float) for c in stored if c in _NUMBERS}
    texts: dict[str, list[pd.Series]] = {c: [] for c in stored if c not in _NUMBERS}
    all_lines = np.empty(parsed.count, dtype=np.int32)  # a 25 MB file has < 2**31 lines
    hashes = np.empty(parsed.count, dtype=np.int64)  # a 64-bit hash of each row's identity (duplicates)
    long = {column: [0, None] for column in text_columns}  # per column: texts cut, first line
    decimal_commas, done = False, 0
    records: list[dict] = []
    lines: list[int] = []

    def pack() -> None:
        nonlocal done
        if records and not problems:
            _truncate(records, lines, text_columns, long)
            for record in records:
                for column in absent:
                    record[column] = ""
            if kind == "articles":  # a content id: the same article gets the same id in every file
                for record in records:
                    digest = hashlib.sha1(record["article"].encode("utf-8")).hexdigest()
                    record["article_id"] = record["article_id"] or f"a-{digest[:10]}"
            span = slice(done, done + len(records))
            for column, values in numbers.items():
                values[span] = [r[column] for r in records]
            for column, parts in texts.items():
                parts.append(pd.Series([r[column] for r in records], dtype=_TEXT_DTYPE))
            all_lines[span] = lines
            hashes[span] = [hash(tuple(r[c] for c in identity)) for r in records]
            done += len(records)
        records.clear()
        lines.clear()

    for line, row in parsed.rows():
        record = _read_record(kind, cells, text_columns, line, row, source)
        if cells.decimal_comma and not decimal_commas and "," in _plain(cells.raw(row, "score")):
            decimal_commas = True
        if problems:
            continue
        records.append(record)
        lines.append(line)
        if len(records) >= CHUNK_ROWS:
            pack()
    pack()
    problems.raise_if_any()
    if decimal_commas:
        warnings.append("read decimal commas in the scores (3,5 = 3.5)")
    assert done == parsed.count, (done, parsed.count)  # both passes read the same rows
    columns: dict[str, Any] = {}
    for column in stored:  # a chunked string column: concatenating keeps the chunks, copies nothing
        columns[column] = numbers[column] if column in numbers else pd.concat(texts.pop(column), ignore_index=True)

    # 2. scores to [0, 1] (ratings), long texts cut (done per chunk: warned here, in the same order as before)
    used_scale = None
    if kind == "ratings":
        raw = numbers["score_raw"]
        used_scale = _apply_scale(raw, all_lines, roles, scale, problems, warnings)
        problems.raise_if_any()
        score = raw - used_scale[0]
        score /= used_scale[1] - used_scale[0]
        columns["score"] = score
    for column, (count, first) in long.items():
        if count:
            limit = MAX_ARTICLE_CHARS if column in _LONG_COLUMNS else MAX_HEADLINE_CHARS
            warnings.append(f"{count} {column} text(s) longer than {limit} characters were truncated "
                            f"(first on line {first})")

    # 3. the canonical table, duplicates dropped
    frame = pd.DataFrame({column: columns.pop(column) for column in COLUMNS[kind]}, copy=False)  # no second copy
    frame = _deduplicate(frame, all_lines, kind, parsed.file, warnings, hashes)
    return LoadedData(kind=kind, frame=frame, scale=used_scale, warnings=warnings, source=source)


def _apply_scale(raw, lines, roles, scale, problems: _Problems, warnings: list[str]) -> tuple[float, float]:
    """The score scale (lo, hi) that normalises raw scores to [0, 1]: score = (raw - lo) / (hi - lo).

    `raw` and `lines` are arrays (one entry per row); an out-of-range score is a problem at its line.
    """
    column = roles["score"]
    if scale is not None:
        lo, hi = _check_scale(scale)
        bad = ~((raw >= lo) & (raw <= hi))
        if bad.any():
            first = int(bad.argmax())
            problems.add(int(lines[first]), column, f"score {raw[first]:g} is outside the stated scale {lo:g}-{hi:g}",
                         times=int(bad.sum()))
        return lo, hi
    low, high = float(raw.min()), float(raw.max())
    lo, hi = _detect_scale(raw)
    if (lo, hi) == (None, None):
        bad = ~((raw >= 0) & (raw <= 10))
        if bad.any():
            first = int(bad.argmax())
            problems.add(int(lines[first]), column, f"score {raw[first]:g} fits none of the known scales 1-5, 0-1, 0-10 "
                         f"(scores range from {low:g} to {high:g}): state the scale, e.g. --scale 0,100", times=int(bad.sum()))
        return (low, high)
    if low == high:
        warnings.append(f"every score is {raw[0]:g}: assumed the {lo:g}-{hi:g} scale; "
                        "state the scale if that is wrong")
    elif (lo, hi) == (0.0, 10.0) and high <= 5:
        warnings.append(f"scores range from {low:g} to {high:g}: assumed the 0-10 scale; state the scale "
                        "(e.g. 0,5) if that is wrong")
    return (lo, hi)


def _detect_scale(raw):
    import numpy as np

    raw = np.asarray(raw, dtype=float)
    low, high = float(raw.min()), float(raw.max())
    integers = bool(np.all(raw == np.floor(raw)))
    if integers and 1 <= low and high <= 5 and high > 1:
        return 1.0, 5.0
    if 0 <= low and high <= 1:
        return 0.0, 1.0
    if 1 <= low and high <= 5:
        return 1.0, 5.0
    if 0 <= low and high <= 10:
        return 0.0, 10.0
    return None, None


def _check_scale(scale) -> tuple[float, float]:
    if isinstance(scale, str):
        scale = parse_scale(scale)
    try:
        lo, hi = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise ConfigError(f"a score scale is two numbers (lo, hi), got {scale!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ConfigError(f"the score scale needs lo < hi (both finite numbers), got {lo:g}, {hi:g}")
    return lo, hi


def parse_scale(text: str) -> tuple[float, float]:
    """'1,5' or '1-5' or '0..10' -> (lo, hi); raises ConfigError in plain English."""
    parts = [p for p in re.split(r"\s*(?:,|\.\.|:|(?<=\d)-)\s*", str(text).strip()) if p]
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--scale takes two numbers such as 1,5 or 0,10; got '{text}'") from None
    return _check_scale((lo, hi))


def _truncate(records, lines, text_columns, long: dict[str, list]) -> None:
    """Cut texts over their limit in one chunk of records; `long[column]` counts them (and the first line)."""
    for column in text_columns:
        limit = MAX_ARTICLE_CHARS if column in _LONG_COLUMNS else MAX_HEADLINE_CHARS
        long_lines = [line for line, r in zip(lines, records) if len(r[column]) > limit]
        if long_lines:
            for record in records:
                record[column] = record[column][:limit].rstrip()
            long[column][0] += len(long_lines)
            long[column][1] = long[column][1] or long_lines[0]


def _identity_columns(kind: str) -> list[str]:
    """The columns that make two rows the same row (the source file and derived columns do not)."""
    return [c for c in COLUMNS[kind] if c not in ("source", "score", "article_id")]


def _duplicated(frame: pd.DataFrame, key: list[str], hashes) -> pd.Series:
    """frame.duplicated(subset=key, keep="first"), with bounded memory: rows with a hash no other
    row shares are unique for sure; only the rows that share one are compared exactly (pandas on
    the whole frame needs several times the frame's memory)."""
    import numpy as np

    ranked = np.sort(hashes)
    repeated = np.unique(ranked[1:][ranked[1:] == ranked[:-1]])  # hashes more than one row has
    del ranked
    shared = np.isin(hashes, repeated)
    duplicated = np.zeros(len(hashes), dtype=bool)
    candidates = np.flatnonzero(shared)
    if len(candidates):
        duplicated[candidates] = frame.iloc[candidates].duplicated(subset=key, keep="first").to_numpy()
    return pd.Series(duplicated, index=frame.index)


def _deduplicate(frame: pd.DataFrame, lines, kind: str, label: str, warnings: list[str], hashes=None) -> pd.DataFrame:
    key = _identity_columns(kind)
    duplicated = frame.duplicated(subset=key, keep="first") if hashes is None else _duplicated(frame, key, hashes)
    if duplicated.any():
        first_dup = int(duplicated.to_numpy().argmax())
        same = frame[key].iloc[:first_dup].eq(frame[key].iloc[first_dup]).all(axis=1).to_numpy().argmax()
        warnings.append(f"removed {int(duplicated.sum())} duplicate row(s) (e.g. line {int(lines[first_dup])} repeats line "
                        f"{int(lines[int(same)])})")
        kept = lines[~duplicated.to_numpy()]
        frame = frame[~duplicated].reset_index(drop=True)
    else:
        kept = lines
    if kind == "articles":  # one id, one article (the same article may come with several references)
        texts_per_id = frame.groupby("article_id", sort=False)["article"].nunique()
        for article_id in texts_per_id[texts_per_id > 1].index[:1]:
            rows = [int(kept[i]) for i in (frame["article_id"] == article_id).to_numpy().nonzero()[0][:2]]
            raise DataError(f"article_id '{article_id}' is used by different articles (lines {rows[0]} and {rows[1]})",
                            file=label, line=rows[1], column="article_id")
    return frame


# ---------------------------------------------------------------------------------------------


def _load(label: str, data: bytes, kind, mapping, scale, source: str) -> LoadedData:
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"unknown kind '{kind}': choose one of {', '.join(KINDS)}")
    if scale is not None:
        scale = _check_scale(scale)
    warnings: list[str] = []
    text = _decode(data, label, warnings)
    parsed = _parse(label, text, warnings)
    kind, roles = _resolve(parsed, kind, mapping, warnings)
    return _build(parsed, kind, roles, scale, source, warnings)
