"""Topic queries: Lucene-style text parsed with luqum into a small typed tree (pure functions).

Supported: AND, OR, NOT (also `-term`), parentheses, "exact phrases", proximity
("rare earth supply"~5), a trailing `*` for prefixes (tariff*), and the fields title:, text:,
source: and lang:. Words side by side without an operator must all occur (AND). Anything else
(fuzzy `word~1`, boosts, ranges, regexes, inner wildcards) is an error with its position,
never a silent non-match.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from luqum import tree
from luqum.exceptions import IllegalCharacterError, ParseError
from luqum.thread import parse

from newswatch.textfold import fold_words

FIELDS = ("title", "text", "source")
# Bounds that keep parsing linear and every recursive walk of the tree (here, in topics.py and
# backtest.py) far below Python's recursion limit of 1,000 frames: luqum itself parses 50,000
# nested parentheses iteratively, but our walks recurse once per level.
MAX_QUERY_CHARS = 20_000
MAX_QUERY_TERMS = 1_000
MAX_QUERY_DEPTH = 50


class QueryError(ValueError):
    """A query that cannot be used, with the 0-based character position of the problem."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(f"position {position}: {message}")
        self.position = position
        self.message = message


@dataclass(frozen=True)
class Term:
    """Folded words that must occur side by side; `prefix`: the last word may continue."""

    words: tuple[str, ...]
    prefix: bool = False
    field: str | None = None  # None: title or text
    label: str = ""


@dataclass(frozen=True)
class Near:
    """Every word within `slop` extra words of the others, in any order ("a b"~N)."""

    terms: tuple[Term, ...]
    slop: int
    field: str | None = None
    label: str = ""


@dataclass(frozen=True)
class Lang:
    """The article's language is `code` or a variant of it (lang:en matches en-GB)."""

    code: str


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Near | Lang | Not | And | Or


def parse_query(text: str) -> Node:
    """Parse and check a query; raise QueryError naming the position and what was expected."""
    if not text.strip():
        raise QueryError(0, 'the query is empty: expected a term or a "phrase"')
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            MAX_QUERY_CHARS,
            f"the query is longer than {MAX_QUERY_CHARS} characters: expected a shorter query",
        )
    try:
        parsed = parse(text)
    except IllegalCharacterError as exc:
        raise _illegal(text, exc) from None
    except ParseError as exc:
        raise _syntax(text, exc) from None
    except ValueError:  # luqum's int() of a proximity such as "a b"~1.5
        at = text.find("~")
        raise QueryError(max(at, 0), "expected a whole number of words after ~") from None
    _check_size(parsed)
    node = _convert(parsed, None, text)
    check_anchored(node)
    return node


def keywords_query(keywords: list[str], exclude: list[str] | None = None) -> Node:
    """A keyword list is an OR of exact phrases; `exclude` terms veto it."""
    terms: list[Node] = [_term(k, k, prefix=False, field=None, pos=0) for k in keywords]
    node: Node = Or(tuple(terms))
    if exclude:
        vetoes = tuple(_term(k, k, prefix=False, field=None, pos=0) for k in exclude)
        node = And((node, Not(Or(vetoes))))
    return node


def keywords_text(keywords: Sequence[str], exclude: Sequence[str] = ()) -> str:
    """A keyword list written as the query it stands for (keywords_query), to edit as one:
    `"defense budget" OR "defence budget"`, the excluded ones after AND NOT."""

    def phrases(terms: Sequence[str]) -> str:
        return " OR ".join('"' + re.sub(r'(["\\\\])', r"\\\1", term) + '"' for term in terms)

    text = phrases(keywords)
    return f"({text}) AND NOT ({phrases(exclude)})" if exclude else text


def leaves(node: Node, negated: bool = False) -> Iterator[tuple[Term | Near | Lang, bool]]:
    """Every leaf, and whether it sits under an odd number of NOTs."""
    if isinstance(node, Term | Near | Lang):
        yield node, negated
    elif isinstance(node, Not):
        yield from leaves(node.child, not negated)
    else:
        for child in node.children:
            yield from leaves(child, negated)


def evaluate(node: Node, holds: Callable[[Term | Near | Lang], bool]) -> bool:
    """The query's truth given which leaves hold."""
    if isinstance(node, Term | Near | Lang):
        return holds(node)
    if isinstance(node, Not):
        return not evaluate(node.child, holds)
    if isinstance(node, And):
        return all(evaluate(child, holds) for child in node.children)
    return any(evaluate(child, holds) for child in node.children)


def check_anchored(node: Node) -> None:
    """Reject queries that match an article with none of their terms (e.g. `NOT x`).

    Matching only looks at topics whose terms occurred, so such a query would silently behave
    differently from what it says.
    """
    langs = sorted({leaf.code for leaf, _ in leaves(node) if isinstance(leaf, Lang)})[:8]
    for chosen in itertools.product((False, True), repeat=len(langs)):
        truth = dict(zip(langs, chosen, strict=True))
        if evaluate(node, partial(_only_langs, truth)):
            raise QueryError(
                0,
                "the query matches articles that contain none of its terms: "
                "expected at least one term that must occur (e.g. `x AND NOT y`, not `NOT y`)",
            )


def _check_size(parsed: tree.Item) -> None:
    """Refuse trees too deep or too wide for the recursive walks, without recursing ourselves."""
    terms = 0
    stack = [(parsed, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_QUERY_DEPTH:
            raise QueryError(
                item.pos or 0,
                f"the query nests more than {MAX_QUERY_DEPTH} levels deep (parentheses, NOT, "
                "fields): expected a flatter query",
            )
        if not item.children:
            terms += 1
            if terms > MAX_QUERY_TERMS:
                raise QueryError(
                    item.pos or 0,
                    f"the query has more than {MAX_QUERY_TERMS} terms: expected fewer "
                    "(split it into several topics)",
                )
        stack.extend((child, depth + 1) for child in reversed(item.children))


def _only_langs(truth: dict[str, bool], leaf: Term | Near | Lang) -> bool:
    return isinstance(leaf, Lang) and truth.get(leaf.code, False)


def _convert(item: tree.Item, field: str | None, text: str) -> Node:
    pos = item.pos or 0
    if isinstance(item, tree.AndOperation | tree.UnknownOperation):
        return And(tuple(_convert(child, field, text) for child in item.children))
    if isinstance(item, tree.OrOperation):
        return Or(tuple(_convert(child, field, text) for child in item.children))
    if isinstance(item, tree.Not | tree.Prohibit):
        return Not(_convert(item.a, field, text))
    if isinstance(item, tree.Plus):
        return _convert(item.a, field, text)
    if isinstance(item, tree.Group | tree.FieldGroup):
        return _convert(item.expr, field, text)
    if isinstance(item, tree.SearchField):
        return _field(item, field, text)
    if isinstance(item, tree.Word):
        return _word(item.value, field, pos)
    if isinstance(item, tree.Phrase):
        return _phrase(item.value, field, pos)
    if isinstance(item, tree.Proximity):
        return _near(item, field, pos)
    if isinstance(item, tree.Fuzzy):
        raise QueryError(
            pos + len(str(item.term)),
            'fuzzy matching (word~N) is not supported: expected ~N after a "phrase" '
            'for proximity, as in "rare earth"~5',
        )
    if isinstance(item, tree.Boost):
        raise QueryError(pos, "boosts (^N) are not supported: expected a term without ^")
    if isinstance(item, tree.Regex):
        raise QueryError(pos, "regular expressions (/…/) are not supported: expected a term")
    raise QueryError(pos, f"{str(item).strip()!r} is not supported: expected a term or a phrase")


def _field(item: tree.SearchField, outer: str | None, text: str) -> Node:
    pos = item.pos or 0
    name = item.name.lower()
    if outer is not None:
        raise QueryError(pos, f"field {name}: inside field {outer}: expected a term")
    if name == "lang":
        if not isinstance(item.expr, tree.Word) or not re.fullmatch(
            r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*", item.expr.value
        ):
            raise QueryError(pos + 5, "expected a language code after lang:, such as lang:en")
        return Lang(item.expr.value.lower().replace("_", "-"))
    if name not in FIELDS:
        raise QueryError(
            pos, f"unknown field {item.name!r}: expected title:, text:, source: or lang:"
        )
    return _convert(item.expr, name, text)


def _word(value: str, field: str | None, pos: int) -> Term:
    raw = _unescape(value)
    prefix = raw.endswith("*")
    core = raw[:-1] if prefix else raw
    for offset, char in enumerate(core):
        if char in "*?":
            raise QueryError(
                pos + offset, f"wildcard {char!r} inside a word: only a trailing * is supported"
            )
    label = f"{field}:{raw}" if field else raw
    return _term(core, label, prefix=prefix, field=field, pos=pos)


def _phrase(value: str, field: str | None, pos: int) -> Term:
    raw = _unescape(value[1:-1])
    prefix = raw.rstrip().endswith("*")
    core = raw.rstrip()[:-1] if prefix else raw
    for offset, char in enumerate(core):
        if char in "*?":
            raise QueryError(
                pos + 1 + offset,
                f"wildcard {char!r} inside a phrase: only a trailing * is supported",
            )
    label = f'{field}:"{raw}"' if field else raw
    return _term(core, label, prefix=prefix, field=field, pos=pos)


def _near(item: tree.Proximity, field: str | None, pos: int) -> Node:
    if not isinstance(item.term, tree.Phrase):
        raise QueryError(pos, 'expected a "phrase" before ~N')
    slop = int(item.degree)
    raw = _unescape(item.term.value[1:-1])
    words = fold_words(raw)
    if not words:
        raise QueryError(pos, "the phrase is empty: expected words between the quotes")
    terms = tuple(dict.fromkeys(_term(w, w, prefix=False, field=field, pos=pos) for w in words))
    label = f'{field + ":" if field else ""}"{raw}"~{slop}'
    return Near(terms, slop, field, label)


def _term(raw: str, label: str, *, prefix: bool, field: str | None, pos: int) -> Term:
    words = tuple(fold_words(raw))
    if not words or not any(char.isalnum() for char in "".join(words)):
        raise QueryError(pos, f"{label!r} has no letters or digits: expected a word")
    return Term(words, prefix, field, label)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _illegal(text: str, exc: IllegalCharacterError) -> QueryError:
    found = re.search(r"at position (\d+)", str(exc))
    pos = int(found.group(1)) if found else 0
    if text[pos : pos + 1] == '"':
        return QueryError(pos, "the phrase is not closed: expected '\"'")
    return QueryError(pos, f"unexpected character {text[pos : pos + 1]!r}: expected a term")


def _syntax(text: str, exc: ParseError) -> QueryError:
    found = re.search(r"unexpected\s+'(.*)' at position (\d+)", str(exc))
    if found is None:
        depth = 0
        for char in text:
            depth += {"(": 1, ")": -1}.get(char, 0)
        if depth > 0:
            return QueryError(len(text), "the query ends inside parentheses: expected ')'")
        return QueryError(len(text), "the query ends early: expected a term after the operator")
    token, pos = found.group(1), int(found.group(2))
    if token == ")":
        if text[:pos].count("(") <= text[:pos].count(")"):
            return QueryError(pos, "unexpected ')' with no '(' before it")
        return QueryError(pos, "unexpected ')': expected a term before it")
    if token in ("AND", "OR"):
        return QueryError(pos, f"unexpected {token}: expected a term or '(' before it")
    return QueryError(pos, f"unexpected {token!r}: expected a term, an operator or a parenthesis")
