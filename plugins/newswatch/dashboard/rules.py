"""The rule editor: a draft query, or a topic's rule, tried on the stored articles as it is typed
(`topics backtest`'s engine, through the read timeout), compared with the topic's rule as last
synced, and the topics.yaml entry that saves it. The dashboard writes no config file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from newswatch import clock, store
from newswatch.backtest import compare_rules, default_start
from newswatch.config.edit import topic_entry
from newswatch.dashboard import params, render
from newswatch.query import QueryError, keywords_text, parse_query
from newswatch.settings import get_settings
from newswatch.store import db, reads
from newswatch.store.topics import StoredTopic, stored_topic

DEFAULT_DAYS, MAX_DAYS = 30, 90
SHOWN = 50  # articles listed, newest first
# Articles matched at most per preview, newest first: about 1 s of matching (retag.py measured
# 5,000 articles of 3.4 KB), paid at each pause in typing.
CANDIDATES = 5_000
TOPICS_SHOWN = 10  # names listed after an unknown topic
NEW_TOPIC = {"name": "new-topic", "title": "New topic"}  # the entry's name until one is picked


@dataclass(frozen=True)
class Draft:
    """What the editor holds: the query text, the topic it is compared with, the window."""

    text: str
    name: str | None
    topic: StoredTopic | None
    days: int


def rule_pages() -> APIRouter:
    """The editor and its preview fragment; app.pages() puts them behind the login."""
    router = APIRouter()

    @router.get("/rules", response_class=HTMLResponse)
    def rules(
        framed: params.InAirflow,
        q: str | None = None,
        topic: str | None = None,
        days: str | None = None,
        load: str | None = None,
    ) -> str:
        with db.read(get_settings()) as session:
            draft = _draft(session, q, topic, days, load=bool(load))
            return render.page(
                "rules.html",
                title="Rule editor",
                embedded=framed,
                topics=reads.topic_names(session),
                max_chars=params.MAX_PARAMETER_CHARS,
                max_days=MAX_DAYS,
                **preview(session, draft),
            )

    @router.get("/rules/preview", response_class=HTMLResponse)
    def rules_preview(
        q: str | None = None, topic: str | None = None, days: str | None = None
    ) -> str:
        """The preview alone, for the page's script to put in place while the editor types."""
        with db.read(get_settings()) as session:
            draft = _draft(session, q, topic, days)
            return render.page("rules_preview.html", **preview(session, draft))

    return router


def _draft(
    session: Session, q: str | None, topic: str | None, days: str | None, load: bool = False
) -> Draft:
    """The request's draft, or a 400 naming the parameter; a picked topic's rule fills an empty
    editor (or any, with `load`)."""
    span = params.whole("days", days, DEFAULT_DAYS, 1, MAX_DAYS)
    name = params.short_name("topic", topic)
    stored = stored_topic(session, name) if name else None
    if name and stored is None:
        known = reads.topic_names(session)
        listed = ", ".join(known[:TOPICS_SHOWN]) + (" …" if len(known) > TOPICS_SHOWN else "")
        raise params.refuse(f"topic: no topic {params.shown(name)}; known: {listed or 'none'}")
    text = q or ""
    if stored is not None and (load or not text.strip()):
        text = rule_text(stored)
    return Draft(text, name, stored, span)


def rule_text(topic: StoredTopic) -> str:
    """A topic's rule as one line of query (the editor is one line): its query, or its keywords
    written as the query they stand for."""
    rule = topic.rule
    if rule.query is not None:
        return " ".join(rule.query.split())
    return keywords_text(rule.keywords, rule.exclude)


def preview(session: Session, draft: Draft) -> dict[str, Any]:
    """What the preview fragment shows: nothing yet, the parse error, or the comparison."""
    shown: dict[str, Any] = {
        "q": draft.text,
        "days": draft.days,
        "topic": draft.name,
        "error": None,
        "comparison": None,
        "candidates": CANDIDATES,
        "shown": SHOWN,
    }
    if not draft.text.strip():
        return shown
    try:
        node = parse_query(draft.text)
    except QueryError as exc:
        return {**shown, "error": exc, "at": min(exc.position, len(draft.text))}
    newest = store.search.article_dates(session, None)[2]
    since = default_start(newest, clock.now(), timedelta(days=draft.days))
    rule = draft.topic.rule if draft.topic is not None else None
    comparison = compare_rules(session, node, rule, since, CANDIDATES)
    return {
        **shown,
        "comparison": comparison,
        "entry": topic_entry(_entry(draft)),
    }


def _entry(draft: Draft) -> dict[str, Any]:
    if draft.topic is None:
        return {**NEW_TOPIC, "query": draft.text}
    return {"name": draft.topic.rule.name, "title": draft.topic.title, "query": draft.text}
