"""Run a topic (or a draft query) over stored articles: full-text search narrows, the engine decides.

PostgreSQL's `articles.search` (migration 0002: accents folded to ASCII, `simple` config, GIN
index) preselects articles holding a word that starts like each required term's first word;
exact matching then runs on those candidates only. The prefix query is a superset of what the
engine can match for Latin-script terms; terms it cannot express (CJK, symbols, NOT, source:,
lang:) simply do not narrow.

Without --since the window is the DEFAULT_WINDOW up to the newest stored article rather than up to
now: a store filled months ago (the demo's sample day is dated a year back) is still covered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from newswatch import clock, store
from newswatch.query import And, Lang, Near, Node, Not, Or, Term
from newswatch.records import Match, Stemming, TopicRule
from newswatch.topics import TopicMatcher, compile_queries, match_text, pattern_of, topic_query

# Six digits at most, so timedelta cannot overflow before MAX_DURATION is checked.
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
MAX_DURATION = timedelta(days=36_500)  # a century; past that, now - window overflows a date
DEFAULT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class BacktestHit:
    article_id: int
    title: str
    url: str
    at: datetime
    match: Match
    source: str = ""  # the feed it was stored from
    story_id: int | None = None


@dataclass(frozen=True)
class Window:
    """The stored articles a backtest covers: those dated (published, else fetched) from `start`;
    how many, and the oldest and newest of their dates."""

    start: datetime
    articles: int
    oldest: datetime | None
    newest: datetime | None


@dataclass(frozen=True)
class BacktestResult:
    tsquery: str | None
    window: Window
    candidates: int  # the articles the full-text prefilter kept, at most the limit
    hits: list[BacktestHit]


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '2w' -> timedelta; ValueError otherwise."""
    found = _DURATION.match(text)
    shown = repr(text) if len(text) <= 40 else repr(text[:39] + "…")
    if found is None:
        raise ValueError(f"expected a duration such as 30d, 12h or 2w, got {shown}")
    window = timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
    if window > MAX_DURATION:
        raise ValueError(f"expected a duration of at most {MAX_DURATION.days}d, got {shown}")
    return window


def tsquery(node: Node, stemming: Stemming = "plural") -> str | None:
    """A PostgreSQL tsquery every article the query can match satisfies; None: no narrowing."""
    if isinstance(node, Term):
        return None if node.field == "source" else _first_word_prefix(node, stemming)
    if isinstance(node, Near):
        return _all([tsquery(term, stemming) for term in node.terms])
    if isinstance(node, Lang | Not):
        return None
    parts = [tsquery(child, stemming) for child in node.children]
    if isinstance(node, And):
        return _all(parts)
    if any(part is None for part in parts):
        return None
    return "(" + " | ".join(_unique(parts)) + ")"


def _all(parts: list[str | None]) -> str | None:
    kept = _unique(parts)
    return "(" + " & ".join(kept) + ")" if kept else None


def _unique(parts: list[str | None]) -> list[str]:
    """Parts in order, each once: `Taiwan OR "Taiwan Strait"` narrows by taiwan:* once."""
    return list(dict.fromkeys(part for part in parts if part))


def _first_word_prefix(term: Term, stemming: Stemming) -> str | None:
    word = pattern_of(term, stemming).anchor if len(term.words) == 1 else term.words[0]
    found = re.match(r"[a-z0-9]+", word)
    return f"{found.group()}:*" if found else None


def default_start(
    newest: datetime | None, now: datetime, window: timedelta = DEFAULT_WINDOW
) -> datetime:
    """The window up to the newest stored article's date, never up to a time after now."""
    return min(newest or now, now) - window


def run_backtest(
    session: Session,
    matcher: TopicMatcher,
    query: Node,
    since: datetime | None,
    limit: int = 10_000,
    stemming: Stemming = "plural",
) -> BacktestResult:
    """Candidates from full-text search in the window (since `since`, else the default window),
    then exact matching on each; `stemming` is the one `matcher` was compiled with."""
    if since is None:
        since = default_start(store.search.article_dates(session, None)[2], clock.now())
    window = Window(since, *store.search.article_dates(session, since))
    narrowing = tsquery(query, stemming)
    rows = store.search.backtest_candidates(session, narrowing, since, limit)
    hits = []
    for row in rows:
        for match in match_text(row.title, row.text, matcher, source=row.source, lang=row.language):
            hit = BacktestHit(row.id, row.title, row.url, row.at, match, row.source, row.story_id)
            hits.append(hit)
    return BacktestResult(narrowing, window, len(rows), hits)


# What the draft and the topic's current rule are called inside the one matcher that runs both.
DRAFT, CURRENT = "draft", "current"


@dataclass(frozen=True)
class Compared:
    """One article the draft or the current rule matches; `hit` is the draft's match when it
    has one, else the current rule's."""

    hit: BacktestHit
    draft: bool
    current: bool

    @property
    def change(self) -> str:
        """gained (only the draft matches), kept (both) or lost (only the current rule)."""
        return "kept" if self.draft and self.current else "gained" if self.draft else "lost"


@dataclass(frozen=True)
class Comparison:
    result: BacktestResult
    articles: list[Compared]  # newest first, as the candidates came

    @property
    def matched(self) -> list[Compared]:
        """The articles the draft matches."""
        return [article for article in self.articles if article.draft]

    @property
    def stories(self) -> int:
        """How many stories the draft's articles belong to; an article not grouped yet is one."""
        return len(
            {(a.hit.story_id is None, a.hit.story_id or a.hit.article_id) for a in self.matched}
        )

    def count(self, change: str) -> int:
        return sum(article.change == change for article in self.articles)


def compare_rules(
    session: Session,
    draft: Node,
    current: TopicRule | None,
    since: datetime | None,
    limit: int = 10_000,
) -> Comparison:
    """Backtest a draft query and, given a topic's rule, that rule too, in one pass over the
    same candidates (the union of both narrowings): which articles the draft gains and loses.
    The draft takes the topic's min_hits and stemming, as it would once written into the topic."""
    min_hits, stemming = (current.min_hits, current.stemming) if current else (1, "plural")
    queries: list[tuple[str, Node, int, Stemming]] = [(DRAFT, draft, min_hits, stemming)]
    node = draft
    if current is not None:
        now = topic_query(current)
        queries.append((CURRENT, now, min_hits, stemming))
        node = Or((draft, now))
    result = run_backtest(session, compile_queries(queries), node, since, limit, stemming)
    by_article: dict[int, list[BacktestHit]] = {}
    for hit in result.hits:
        by_article.setdefault(hit.article_id, []).append(hit)
    articles = []
    for hits in by_article.values():
        names = {hit.match.topic for hit in hits}
        articles.append(Compared(hits[0], DRAFT in names, CURRENT in names))
    return Comparison(result, articles)
