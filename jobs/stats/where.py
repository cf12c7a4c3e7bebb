"""``--where``: a small, safe filter language compiled to a ``pyarrow.compute`` expression.

Grammar (keywords are case-insensitive)::

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | cmp
    cmp     := sum [ ("=="|"="|"!="|"<"|"<="|">"|">=") sum
                   | ["not"] "in" "(" literal ("," literal)* ")"
                   | "is" ["not"] "null"
                   | ["not"] ("contains"|"startswith"|"endswith") STRING ]
    sum     := term (("+"|"-") term)*
    term    := unary (("*"|"/") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | STRING | "true" | "false" | "null" | NAME ("." NAME)* | "(" expr ")"

Names are columns (``video_motion_v1_score``, ``video_probe.duration_s``) or the derived columns of
:mod:`.columns` (``width``, ``caption_len``, ...). The text is tokenised and parsed here; nothing is
ever handed to ``eval``, so the only things an expression can do are compare and combine columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["WhereError", "Where", "parse_where"]


class WhereError(ValueError):
    """A ``--where`` expression that cannot be parsed; the message points at the offending token."""


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|[=<>()+\-*/,.])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
)""",
    re.VERBOSE,
)

_COMPARE = {
    "==": pc.equal,
    "=": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}
_ARITH = {"+": pc.add, "-": pc.subtract, "*": pc.multiply, "/": pc.divide}
_STRING_OPS = {"contains": pc.match_substring, "startswith": pc.starts_with, "endswith": pc.ends_with}
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false", *_STRING_OPS}


@dataclass
class Where:
    """A compiled filter: the Arrow expression and the column names it reads."""

    text: str
    expression: pc.Expression
    names: set[str] = field(default_factory=set)


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise WhereError(f"cannot read {text[pos:].strip()[:20]!r} at position {pos} in {_shown(text)}")
        kind = match.lastgroup or ""
        value, start = match.group(kind), match.start(kind)
        if kind == "name" and value.lower() in _KEYWORDS:
            kind, value = "kw", value.lower()
        tokens.append((kind, value, start))
        pos = match.end()
    return tokens


MAX_DEPTH = 32


def _shown(text: str) -> str:
    """The expression as quoted in an error: a short prefix, so a huge argument makes a short message."""
    return repr(text) if len(text) <= 80 else repr(text[:77]) + "..."


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.names: set[str] = set()
        self.shown = _shown(text)
        self.depth = 0

    def _deeper(self) -> None:
        """Count one nesting level (parenthesis, not, unary minus); recursion stays far below Python's limit."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise WhereError(f"expression nested deeper than {MAX_DEPTH} levels in {self.shown}")

    # -- token helpers ---------------------------------------------------------------------------
    def _peek(self, offset: int = 0) -> tuple[str, str, int] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def _accept(self, kind: str, *values: str) -> str | None:
        token = self._peek()
        if token is not None and token[0] == kind and (not values or token[1] in values):
            self.i += 1
            return token[1]
        return None

    def _expect(self, kind: str, *values: str) -> str:
        value = self._accept(kind, *values)
        if value is None:
            token = self._peek()
            where = f"{token[1]!r} at position {token[2]}" if token else "end of expression"
            raise WhereError(f"expected {' or '.join(values) or kind}, found {where} in {self.shown}")
        return value

    # -- grammar ---------------------------------------------------------------------------------
    def parse(self) -> pc.Expression:
        if not self.tokens:
            raise WhereError("empty --where expression")
        expr = self._or()
        if self._peek() is not None:
            token = self._peek()
            assert token is not None
            raise WhereError(f"unexpected {token[1]!r} at position {token[2]} in {self.shown}")
        if not self.names:
            raise WhereError(f"{self.shown} is a constant, not a condition on columns")
        return expr

    def _or(self) -> pc.Expression:
        expr = self._and()
        while self._accept("kw", "or"):
            expr = pc.or_kleene(expr, self._and())
        return expr

    def _and(self) -> pc.Expression:
        expr = self._not()
        while self._accept("kw", "and"):
            expr = pc.and_kleene(expr, self._not())
        return expr

    def _not(self) -> pc.Expression:
        if self._accept("kw", "not"):
            self._deeper()
            expr = pc.invert(self._not())
            self.depth -= 1
            return expr
        return self._cmp()

    def _cmp(self) -> pc.Expression:
        left = self._sum()
        op = self._accept("op", *_COMPARE)
        if op is not None:
            return _COMPARE[op](left, self._sum())
        if self._accept("kw", "is"):
            negate = self._accept("kw", "not") is not None
            self._expect("kw", "null")
            expr = pc.is_null(left)
            return pc.invert(expr) if negate else expr
        negate = False
        if self._peek() and self._peek()[:2] == ("kw", "not"):  # type: ignore[index]
            self.i += 1
            negate = True
        if self._accept("kw", "in"):
            self._expect("op", "(")
            values = [self._literal()]
            while self._accept("op", ","):
                values.append(self._literal())
            self._expect("op", ")")
            try:
                value_set = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                raise WhereError(f"the values of an 'in' list must share one type in {self.shown}") from None
            expr = pc.is_in(left, value_set=value_set)
        elif (string_op := self._accept("kw", *_STRING_OPS)) is not None:
            expr = _STRING_OPS[string_op](left, self._string())
        elif negate:
            raise WhereError(f"'not' must be followed by in/contains/startswith/endswith in {self.shown}")
        else:
            return left
        return pc.invert(expr) if negate else expr

    def _sum(self) -> pc.Expression:
        expr = self._term()
        while (op := self._accept("op", "+", "-")) is not None:
            expr = _ARITH[op](expr, self._term())
        return expr

    def _term(self) -> pc.Expression:
        expr = self._unary()
        while (op := self._accept("op", "*", "/")) is not None:
            right = self._unary()
            # Integer division would truncate (width / height == 1); ratios are meant as floats.
            expr = _ARITH[op](expr.cast(pa.float64()) if op == "/" else expr, right)
        return expr

    def _unary(self) -> pc.Expression:
        if self._accept("op", "-"):
            self._deeper()
            expr = pc.negate(self._unary())
            self.depth -= 1
            return expr
        return self._atom()

    def _atom(self) -> pc.Expression:
        if self._accept("op", "("):
            self._deeper()
            expr = self._or()
            self._expect("op", ")")
            self.depth -= 1
            return expr
        token = self._peek()
        if token is not None and token[0] == "name":
            parts = [self._expect("name")]
            while self._accept("op", "."):
                parts.append(self._expect("name"))
            self.names.add(".".join(parts))
            return pc.field(*parts)
        return pc.scalar(self._literal())

    def _string(self) -> str:
        value = self._literal()
        if not isinstance(value, str):
            raise WhereError(f"expected a quoted string in {self.shown}")
        return value

    def _literal(self) -> object:
        sign = -1 if self._accept("op", "-") else 1
        if (num := self._accept("num")) is not None:
            value = float(num) if any(c in num for c in ".eE") else int(num)
            return sign * value
        if (text := self._accept("str")) is not None:
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self._accept("kw", word):
                return value
        token = self._peek()
        found = f"{token[1]!r} at position {token[2]}" if token else "end of expression"
        raise WhereError(f"expected a value, found {found} in {self.shown}")


def parse_where(text: str, known: set[str] | None = None) -> Where:
    """Compile ``text``; with ``known`` (column names), unknown names are an error naming them."""
    parser = _Parser(text)
    expression = parser.parse()
    if known is not None:
        unknown = sorted(n for n in parser.names if n not in known and n.split(".")[0] not in known)
        if unknown:
            raise WhereError(f"unknown column {unknown[0]!r} in {_shown(text)}; known: {', '.join(sorted(known))}")
    return Where(text=text, expression=expression, names=parser.names)
