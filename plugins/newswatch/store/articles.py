"""Articles: known URLs and GUIDs, sources, and saving a batch into stories with its matches and alerts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newswatch import models, stories
from newswatch.outcomes import Outcome
from newswatch.records import Article, Match
from newswatch.search_vector import search_document, search_vector
from newswatch.store import alerts as alerting
from newswatch.store import copies as copying
from newswatch.store import db
from newswatch.store.topics import topic_ids


def known_guids(session: Session, pairs: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """(feed, guid) pairs already stored: an item whose link changed is still not new."""
    wanted = list(set(pairs))
    if not wanted:
        return set()
    rows = session.execute(
        select(models.ArticleSource.feed_id, models.ArticleSource.guid).where(
            tuple_(models.ArticleSource.feed_id, models.ArticleSource.guid).in_(wanted)
        )
    )
    return {(feed_id, guid) for feed_id, guid in rows if guid is not None}


def known_urls(session: Session, urls: Iterable[str]) -> dict[str, int]:
    """Article ids of the URLs already stored, as an article's URL or as a feed link that led
    to it (the page named another canonical URL), in one query."""
    wanted = list(set(urls))
    if not wanted:
        return {}
    rows = session.execute(
        select(models.Article.url, models.Article.id)
        .where(models.Article.url.in_(wanted))
        .union_all(
            select(models.ArticleSource.url, models.ArticleSource.article_id).where(
                models.ArticleSource.url.in_(wanted)
            )
        )
    )
    return {url: article_id for url, article_id in rows}


def add_sources(
    session: Session, sources: Iterable[tuple[int, int, str | None, str | None]], at: datetime
) -> None:
    """Record that (article, feed, guid, feed link if not the article's URL) was seen at `at`;
    repeats are ignored, so seen_at is when the feed first brought it (the watchdog's rhythm).

    Sent as executemany (insertmanyvalues makes it multi-row INSERTs from one cached statement):
    one statement with the rows in its VALUES took SQLAlchemy 120 ms to compile per 1,000 rows,
    anew for every count of rows."""
    rows = [
        {"article_id": a, "feed_id": f, "guid": g, "url": u, "seen_at": at}
        for a, f, g, u in sources
    ]
    if rows:
        table = cast(Table, models.ArticleSource.__table__)
        session.execute(insert(table).on_conflict_do_nothing(), rows)


def save_articles(
    session: Session,
    tagged: Sequence[tuple[Article, Sequence[Match]]],
    at: datetime,
    *,
    similarity: float = 0.8,
    window: timedelta = timedelta(days=7),
    index: stories.StoryIndex | None = None,
) -> dict[str, int]:
    """Insert new articles into stories, with their matches and what they tell each reader.

    `index` carries the story signatures from one call to the next of the same batch, so each
    call loads only articles stored since (ids grow in commit order: all writers take
    db.Lock.STORIES before inserting).

    An exact copy (same text) of a stored or earlier article adds a source, not a row; a
    near-duplicate joins that article's story, and its matches tell a reader only of topics the
    story had not hit for them (store.alerts). Repeats insert nothing. Each table gets one
    multi-row statement per call (through insertmanyvalues), never one per article.
    """
    counts: dict[str, int] = dict.fromkeys(
        (
            Outcome.ARTICLES_NEW,
            Outcome.DUPLICATES,
            Outcome.STORIES_NEW,
            Outcome.STORY_COPIES,
            Outcome.MATCHES_NEW,
            Outcome.ALERTS_NEW,
        ),
        0,
    )
    if not tagged:
        return counts
    db.hold(session, db.Lock.STORIES)
    fresh, copies = copying.split_copies(session, copying.distinct_renames(session, tagged))
    counts[Outcome.DUPLICATES] = len(copies)
    # An article whose URL an earlier run or a concurrent batch stored first is a source of it.
    ids = _stored_ids(session, [a.url for a, _ in fresh])
    unstored = [(a, ms) for a, ms in fresh if a.url not in ids]
    new = [
        (a, ms, i) for (a, ms), i in zip(unstored, _next_ids(session, len(unstored)), strict=True)
    ]
    story_of = _assign_stories(
        session,
        [(a, i) for a, _, i in new],
        at,
        window,
        index if index is not None else stories.StoryIndex(similarity),
    )
    _insert_articles(session, [(a, i, story_of[a.url][0]) for a, _, i in new], at)
    _lead_stories(session, [(story_of[a.url][0], i) for a, _, i in new if story_of[a.url][1]])
    counts[Outcome.ARTICLES_NEW] = len(new)
    ids.update((a.url, i) for a, _, i in new)
    sources = [(ids[a.url], a) for a, _ in fresh]
    for article, twin in copies:
        twin_id = twin if isinstance(twin, int) else ids.get(twin)
        if twin_id is not None:
            sources.append((twin_id, article))
    add_sources(session, [(i, a.feed_id, a.guid, a.item_url) for i, a in sources], at)
    counts[Outcome.STORIES_NEW] = sum(is_new for _, is_new in story_of.values())
    counts[Outcome.STORY_COPIES] = len(story_of) - counts[Outcome.STORIES_NEW]
    counts[Outcome.MATCHES_NEW], counts[Outcome.ALERTS_NEW] = _insert_matches_and_alerts(
        session,
        [(i, story_of[a.url][0], m) for a, ms, i in new for m in ms],
        at,
    )
    return counts


def _stored_ids(session: Session, urls: Sequence[str]) -> dict[str, int]:
    """Ids of the articles stored under these URLs. Not known_urls: a URL that is only another
    article's feed link is still an article of its own here."""
    if not urls:
        return {}
    rows = session.execute(
        select(models.Article.url, models.Article.id).where(models.Article.url.in_(urls))
    )
    return {url: article_id for url, article_id in rows}


def _next_ids(session: Session, count: int) -> list[int]:
    """`count` new article ids, drawn before the rows are written: each row is then inserted
    with its story, where an UPDATE afterwards wrote every new row twice and gave each index,
    the full-text one too, a second entry (~20 % of the database's CPU in a large run)."""
    if not count:
        return []
    sequence = func.pg_get_serial_sequence(models.Article.__tablename__, "id")
    rows = session.execute(
        select(func.nextval(sequence)).select_from(func.generate_series(1, count))
    )
    return [article_id for (article_id,) in rows]


def _insert_articles(
    session: Session, articles: Sequence[tuple[Article, int, int]], at: datetime
) -> None:
    """Insert (article, its id, its story). The URLs are new: writers insert under
    db.Lock.STORIES and this one looked them up under it."""
    if not articles:
        return
    rows = []
    for article, article_id, story_id in articles:
        values: dict[str, Any] = asdict(article)
        del values["guid"], values["item_url"]
        values["id"], values["story_id"], values["fetched_at"] = article_id, story_id, at
        values["search_document"] = search_document(article.title, article.text)
        rows.append(values)
    table = cast(Table, models.Article.__table__)
    session.execute(insert(table).values(search=search_vector(bindparam("search_document"))), rows)


def _assign_stories(
    session: Session,
    articles: Sequence[tuple[Article, int]],
    at: datetime,
    window: timedelta,
    index: stories.StoryIndex,
) -> dict[str, tuple[int, bool]]:
    """(story id, whether the story is new) by article URL, for articles about to be stored
    under the ids given: each joins the most similar stored article's story within the
    window, else starts one (stored here, its lead set by _lead_stories once the article is)."""
    if not articles:
        return {}
    index.add_all(recent_signatures(session, at - window, after_id=index.newest))
    planned: dict[str, int] = {}  # URL -> story id, or -(position + 1) in `leads` for new ones
    leads: list[Article] = []
    for article, article_id in articles:
        minhash = stories.from_bytes(article.minhash) if article.minhash else None
        story = index.find(minhash, article.title) if minhash is not None else None
        if story is None:
            leads.append(article)
            story = -len(leads)
        planned[article.url] = story
        if minhash is not None:
            index.add(str(article_id), story, minhash, article.title)
    new_ids: list[int] = []
    if leads:
        result = session.execute(
            insert(models.Story).returning(models.Story.id, sort_by_parameter_order=True),
            [{"first_seen_at": at, "title": article.title} for article in leads],
        )
        new_ids = [story_id for (story_id,) in result]
    lead_urls = {article.url for article in leads}
    story_of = {
        url: (new_ids[-story - 1] if story < 0 else story, url in lead_urls)
        for url, story in planned.items()
    }
    for article, article_id in articles:  # the index lives on into the batch's next call
        if article.minhash and planned[article.url] < 0:
            index.set_story(str(article_id), story_of[article.url][0])
    return story_of


def _lead_stories(session: Session, leads: Sequence[tuple[int, int]]) -> None:
    """Give each new (story, article) its lead, now the article is stored."""
    if leads:
        session.execute(
            update(models.Story),
            [{"id": story_id, "lead_article_id": article_id} for story_id, article_id in leads],
        )


def _insert_matches_and_alerts(
    session: Session, matched: Sequence[tuple[int, int, Match]], at: datetime
) -> tuple[int, int]:
    """Insert (article, story, match) rows and queue what they tell each reader
    (store.alerts); returns (matches inserted, messages queued)."""
    topics = topic_ids(session)
    rows = [
        {
            "article_id": article_id,
            "topic_id": topics[match.topic],
            "terms": match.terms,
            "snippet": match.snippet,
            "highlights": [list(span) for span in match.highlights],
            "offsets": {t: [list(s) for s in spans] for t, spans in match.offsets.items()},
            "matched_at": at,
        }
        for article_id, _, match in matched
        if match.topic in topics
    ]
    if not rows:
        return 0, 0
    result = session.execute(
        insert(models.Match)
        .on_conflict_do_nothing()
        .returning(models.Match.id, models.Match.article_id, models.Match.topic_id),
        rows,
    )
    match_ids = {(article_id, topic_id): match_id for match_id, article_id, topic_id in result}
    hits = [
        alerting.Hit(story_id, article_id, topics[m.topic], m.topic, match_id)
        for article_id, story_id, m in matched
        if m.topic in topics
        and (match_id := match_ids.get((article_id, topics[m.topic]))) is not None
    ]
    return len(match_ids), alerting.queue_alerts(session, hits, at)


def recent_signatures(
    session: Session, since: datetime, after_id: int = 0
) -> list[tuple[str, int, bytes, str]]:
    rows = session.execute(
        select(
            models.Article.id, models.Article.story_id, models.Article.minhash, models.Article.title
        ).where(
            models.Article.fetched_at >= since,
            models.Article.id > after_id,
            models.Article.minhash.is_not(None),
            models.Article.story_id.is_not(None),
        )
    )
    return [
        (str(a), story, data, title) for a, story, data, title in rows if story is not None and data
    ]
