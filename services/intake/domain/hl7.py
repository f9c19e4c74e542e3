"""HL7 v2 ER7 parsing: bytes to segments, with the sender's encoding characters, charset and escapes."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

BOM = b"\xef\xbb\xbf"
_SEGMENT_END = re.compile(r"\r\n|\r|\n")
_SEGMENT_END_BYTES = re.compile(rb"\r\n|\r|\n")
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
# MSH-18 values we decode; anything else is refused rather than guessed.
CHARSETS = {"": None, "ASCII": "ascii", "UNICODE UTF-8": "utf-8", "UTF-8": "utf-8",
            **{f"8859/{n}": f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)}}


class Hl7Problem(Exception):
    """A problem to report in an ERR segment: HL7 table 0357 code, location, plain reason never quoting the input."""

    def __init__(self, reason: str, code: str = "102", location: str = "MSH^1^1"):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.location = location


class Hl7ParseError(Hl7Problem):
    """The bytes are not an HL7 v2 message we can read (AR)."""


@dataclass(frozen=True)
class Encoding:
    """The delimiters a message declares in MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"


@dataclass
class Segment:
    """One segment; fields[n] is field n (for MSH, fields[1] is MSH-1, the field separator)."""

    name: str
    fields: list[str]


@dataclass
class Message:
    """A parsed message: its segments, delimiters and the charset it was decoded with."""

    segments: list[Segment]
    encoding: Encoding
    charset: str = ""
    # The first segment of each id, found once: a visit reads some 35 values, each by segment id.
    _firsts: dict[str, Segment] | None = field(default=None, init=False, repr=False, compare=False)

    def text(self) -> str:
        """The message as ER7 text with CR segment ends."""
        lines = []
        for seg in self.segments:
            fields = [seg.fields[0], *seg.fields[2:]] if seg.name == "MSH" else seg.fields
            lines.append(self.encoding.field.join(fields))
        return "\r".join(lines) + "\r"

    def all(self, name: str) -> list[Segment]:
        """Every segment with this id, in order."""
        return [s for s in self.segments if s.name == name]

    def first(self, name: str) -> Segment | None:
        if self._firsts is None:
            self._firsts = {}
            for seg in self.segments:
                self._firsts.setdefault(seg.name, seg)
        return self._firsts.get(name)

    def get(self, name: str, field_no: int, component: int = 1, repetition: int = 1, sub: int = 1) -> str:
        """The unescaped value at SEG-field.component.sub of the first segment named; '' when absent."""
        seg = self.first(name)
        return self.value(seg, field_no, component, repetition, sub) if seg else ""

    def value(self, seg: Segment, field_no: int, component: int = 1, repetition: int = 1, sub: int = 1) -> str:
        """The unescaped value at field.component.sub (1-based) of one segment; '' when absent."""
        if seg.name == "MSH" and field_no in (1, 2):
            return seg.fields[field_no] if field_no < len(seg.fields) else ""
        raw = _pick(seg.fields, field_no)
        raw = _pick(raw.split(self.encoding.repetition), repetition - 1)
        raw = _pick(raw.split(self.encoding.component), component - 1)
        raw = _pick(raw.split(self.encoding.subcomponent), sub - 1)
        return unescape(raw, self.encoding)

    def components(self, seg: Segment, field_no: int, repetition: int = 1) -> list[str]:
        """Every component (its first subcomponent) of one field repetition, unescaped."""
        raw = _pick(_pick(seg.fields, field_no).split(self.encoding.repetition), repetition - 1)
        return [unescape(c.split(self.encoding.subcomponent)[0], self.encoding)
                for c in raw.split(self.encoding.component)]


def _pick(items: list[str], index: int) -> str:
    return items[index] if 0 <= index < len(items) else ""


_ESCAPES = {"F": "field", "S": "component", "R": "repetition", "T": "subcomponent", "E": "escape"}


def unescape(text: str, enc: Encoding) -> str:
    """Resolve HL7 escape sequences (\\F\\ \\S\\ \\R\\ \\T\\ \\E\\ \\Xhh\\ \\.br\\); formatting codes are dropped."""
    esc = enc.escape
    if not esc or esc not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        end = text.find(esc, i + 1) if ch == esc else -1
        if end < 0:
            out.append(ch)
            i += 1
            continue
        code = text[i + 1:end]
        if code in _ESCAPES:
            out.append(getattr(enc, _ESCAPES[code]))
        elif code.startswith("X") and re.fullmatch(r"X(?:[0-9A-Fa-f]{2})+", code):
            out.append(bytes.fromhex(code[1:]).decode("utf-8", errors="replace"))
        elif code == ".br":
            out.append("\n")
        i = end + 1
    return "".join(out)


def decode(raw: bytes) -> str:
    """Bytes to text using MSH-18 (read from the ASCII-compatible header first); a BOM is dropped."""
    if raw.startswith(BOM):
        raw = raw[len(BOM):]
    head = raw.split(b"\r", 1)[0].split(b"\n", 1)[0].decode("latin-1")
    charset = _declared_charset(head)
    if charset not in CHARSETS:
        raise Hl7ParseError("character set in MSH-18 is not supported", "203", "MSH^1^18")
    codec = CHARSETS[charset]
    if codec is None:
        # Undeclared: feeds mostly send UTF-8; a byte that is not UTF-8 means Latin-1.
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return raw.decode(codec, errors="replace")


def _declared_charset(head: str) -> str:
    """MSH-18 (first repetition, first component) of the first MSH line, or ''."""
    start = head.find("MSH")
    if start < 0 or len(head) < start + 8:
        return ""
    sep = head[start + 3]
    fields = head[start:].split(sep)
    if len(fields) <= 17:
        return ""
    enc = fields[1]
    value = fields[17]
    for delim in enc[:2]:
        value = value.split(delim)[0]
    return value.strip().upper()


def split_segments(text: str) -> list[str]:
    """Segments ended by CR, LF or CRLF; blank lines and surrounding whitespace dropped."""
    return [s for s in (line.strip("\x00 \t\f\v") for line in _SEGMENT_END.split(text.lstrip("\ufeff"))) if s]


def read_encoding(header: str) -> Encoding:
    """Delimiters from an MSH/FHS/BHS header line; refuses ambiguous or missing ones."""
    if len(header) < 5:
        raise Hl7ParseError("header segment too short to carry the encoding characters", "102", "MSH^1^2")
    sep = header[3]
    chars = header[4:].split(sep, 1)[0]
    if len(chars) < 2 or len(chars) > 5:
        raise Hl7ParseError("MSH-2 must hold the encoding characters", "102", "MSH^1^2")
    delims = [sep, *chars[:4]]
    if any(c.isalnum() or c.isspace() for c in delims) or len(set(delims)) != len(delims):
        raise Hl7ParseError("MSH-1 and MSH-2 must be distinct punctuation characters", "102", "MSH^1^2")
    return Encoding(sep, chars[0], chars[1], chars[2] if len(chars) > 2 else "",
                    chars[3] if len(chars) > 3 else "\x1a")


def parse_lines(lines: list[str], charset: str = "") -> Message:
    """Segments of one message (the first is MSH) into a Message."""
    if not lines:
        raise Hl7ParseError("the frame holds no message", "100", "MSH^1")
    if not lines[0].startswith("MSH"):
        raise Hl7ParseError("a message must start with an MSH segment", "100", "MSH^1")
    enc = read_encoding(lines[0])
    segments = []
    for number, line in enumerate(lines, start=1):
        name = line[:3]
        if not _SEGMENT_ID.match(name) or (len(line) > 3 and line[3] != enc.field):
            raise Hl7ParseError(f"segment {number} does not start with a segment id", "100", f"^{number}")
        if "\x00" in line:  # padding at a segment's end is dropped; inside one it is corrupt data nothing can store
            raise Hl7ParseError(f"segment {number} contains a NUL character (0x00)", "102", f"{name}^{number}")
        fields = line.split(enc.field)
        if name == "MSH":
            fields.insert(1, enc.field)
        segments.append(Segment(name, fields))
    return Message(segments, enc, charset)


def parse(raw: bytes) -> Message:
    """One HL7 v2 message from bytes."""
    text = decode(raw)
    return parse_lines(split_segments(text), _declared_charset(text.split("\r", 1)[0].split("\n", 1)[0]))


def parse_many(raw: bytes) -> tuple[list[Message | Hl7ParseError], bool]:
    """The messages in a frame: one message, or every message of an FHS/BHS batch; True when it was a batch."""
    raw = raw.removeprefix(BOM)
    if not raw.lstrip(b"\x00 \t\r\n\f\v").startswith((b"FHS", b"BHS")):
        text = decode(raw)
        lines = split_segments(text)
        try:
            return [parse_lines(lines, _declared_charset(lines[0] if lines else ""))], False
        except Hl7ParseError as exc:
            return [exc], False
    lines = [line.strip(b"\x00 \t\f\v") for line in _SEGMENT_END_BYTES.split(raw)]
    lines = [line for line in lines if line]
    read_encoding(lines[0].decode("latin-1"))
    # Each message is decoded on its own, by its own MSH-18: a batch may gather feeds in different character sets.
    found: list[Message | Hl7ParseError] = []
    current: list[bytes] = []
    for line in lines:
        if line.startswith((b"FHS", b"BHS", b"BTS", b"FTS", b"MSH")):
            if current:
                found.append(_safe_parse(b"\r".join(current)))
            current = [line] if line.startswith(b"MSH") else []
        elif current:
            current.append(line)
    if current:
        found.append(_safe_parse(b"\r".join(current)))
    return found, True


def _safe_parse(raw: bytes) -> Message | Hl7ParseError:
    try:
        return parse(raw)
    except Hl7ParseError as exc:
        return exc