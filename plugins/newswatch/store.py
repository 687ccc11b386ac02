"""Store adapter: config sync, feed state, batch writes of articles, matches and alerts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from newswatch import models, schedule, stories
from newswatch.config import Config, SubscriberConfig
from newswatch.digest import DigestStory, DigestTopic
from newswatch.records import Article, FeedPoll, FeedState, Match
from newswatch.sanitize import ERROR_CHARS, clean_line
from newswatch.search_vector import search_document, search_vector
from newswatch.settings import Settings

RELEASED = "urn:newswatch:released:"  # a URL given up to the feed that feeds.yaml names it for


def sync_config(session: Session, config: Config) -> None:
    """Upsert feeds and topics from config; entries removed from config are disabled, not deleted.

    feeds.yaml wins over what the store learnt: a URL it names for one feed is taken from any
    other feed holding it (two feeds swapped, or a feed a 301 moved onto it), and that feed goes
    back to its own configured URL; without this the unique URL stopped every run.
    """
    wanted = {feed.name: feed.url for feed in config.feeds}
    holders = session.execute(
        select(models.Feed.id, models.Feed.name, models.Feed.url).where(
            models.Feed.url.in_(set(wanted.values()))
        )
    ).all()
    for feed_id, name, url in holders:
        if wanted.get(name) != url:
            session.execute(
                update(models.Feed)
                .where(models.Feed.id == feed_id)
                .values(url=f"{RELEASED}{feed_id}")
            )
    for feed in config.feeds:
        stmt = insert(models.Feed).values(
            name=feed.name, url=feed.url, config_url=feed.url, enabled=feed.enabled
        )
        config_changed = models.Feed.config_url.is_distinct_from(stmt.excluded.config_url)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[models.Feed.name],
                set_={
                    # A URL learnt from a permanent redirect stays until feeds.yaml itself changes.
                    "url": case((config_changed, stmt.excluded.url), else_=models.Feed.url),
                    "next_poll_at": case((config_changed, None), else_=models.Feed.next_poll_at),
                    "config_url": stmt.excluded.config_url,
                    "enabled": stmt.excluded.enabled,
                },
            )
        )
    names = [feed.name for feed in config.feeds]
    session.execute(update(models.Feed).where(models.Feed.name.not_in(names)).values(enabled=False))
    taken = set(session.scalars(select(models.Feed.url)))
    for row in session.scalars(select(models.Feed).where(models.Feed.url.startswith(RELEASED))):
        if row.config_url and row.config_url not in taken:
            row.url, row.next_poll_at = row.config_url, None
            taken.add(row.config_url)
    session.flush()
    for topic in config.topics:
        values = {
            "name": topic.name,
            "title": topic.label,
            "description": topic.description,
            "rule": {
                "query": topic.query,
                "keywords": topic.keywords,
                "exclude": topic.exclude,
                "min_hits": topic.min_hits,
            },
            "recipients": config.recipients_for(topic),
            "enabled": topic.enabled,
        }
        stmt = insert(models.Topic).values(**values)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[models.Topic.name],
                set_={k: stmt.excluded[k] for k in values if k != "name"},
            )
        )
    topic_names = [topic.name for topic in config.topics]
    session.execute(
        update(models.Topic).where(models.Topic.name.not_in(topic_names)).values(enabled=False)
    )


def due_feeds(session: Session, now: datetime, slack: timedelta) -> list[tuple[int, str]]:
    """(id, url) of enabled feeds whose next poll falls before now + slack; never polled is due."""
    due = or_(models.Feed.next_poll_at.is_(None), models.Feed.next_poll_at <= now + slack)
    query = (
        select(models.Feed.id, models.Feed.url)
        .where(models.Feed.enabled, due)
        .order_by(models.Feed.id)
    )
    return [(feed_id, url) for feed_id, url in session.execute(query)]


def feed_states(session: Session, feed_ids: Sequence[int]) -> list[FeedState]:
    rows = session.scalars(
        select(models.Feed)
        .where(models.Feed.id.in_(feed_ids), models.Feed.enabled)
        .order_by(models.Feed.id)
    )
    return [
        FeedState(
            id=f.id,
            name=f.name,
            url=f.url,
            etag=f.etag,
            last_modified=f.last_modified,
            last_full_poll_at=f.last_full_poll_at,
        )
        for f in rows
    ]


def record_poll(session: Session, poll: FeedPoll, at: datetime, settings: Settings) -> str | None:
    """Remember a poll's outcome and schedule the next one; returns a note worth reporting."""
    feed = session.get_one(models.Feed, poll.feed_id)
    feed.last_polled_at = at
    feed.last_status = (
        poll.status if poll.http_status is None else f"{poll.status} {poll.http_status}"
    )
    note = None
    if poll.moved_to and poll.moved_to != feed.url:
        taken = session.scalar(select(models.Feed.id).where(models.Feed.url == poll.moved_to))
        if taken is None:
            note = f"feed {feed.name!r} moved permanently: {feed.url} -> {poll.moved_to}"
            feed.url = poll.moved_to
    if poll.status in ("error", "gone"):
        feed.consecutive_failures += 1
        # Error messages quote what servers and parsers said: bounded and clean like the rest.
        feed.last_error = clean_line(poll.error, ERROR_CHARS) or None
        if poll.status == "gone":
            feed.last_error = "HTTP 410 Gone: the publisher removed this feed; now tried monthly"
            failures = max(feed.consecutive_failures, settings.max_consecutive_failures)
        else:
            failures = feed.consecutive_failures
        nxt = schedule.after_failure(
            now=at,
            failures=failures,
            max_failures=settings.max_consecutive_failures,
            status=poll.http_status,
            headers=poll.headers,
        )
        feed.next_poll_at = nxt.at
        return note
    published = [item.published_at for item in poll.items if item.published_at]
    previous = timedelta(seconds=feed.poll_interval_seconds) if feed.poll_interval_seconds else None
    nxt = schedule.after_success(
        now=at,
        bounds=schedule.Bounds(
            shortest=timedelta(minutes=settings.min_poll_interval_minutes),
            longest=timedelta(hours=settings.max_poll_interval_hours),
        ),
        published=published if poll.status == "ok" else [],
        previous=previous,
        headers=poll.headers,
        ttl_minutes=poll.ttl_minutes,
    )
    feed.next_poll_at = nxt.at
    feed.poll_interval_seconds = int(nxt.interval.total_seconds()) if nxt.interval else None
    feed.consecutive_failures = 0
    feed.last_error = clean_line(poll.warning, ERROR_CHARS) or None
    feed.last_success_at = at
    if poll.unstored:
        # Keep the old validators: the next poll reads the feed in full and retries these
        # items (the stored ones are skipped), where a 304 would have lost them.
        feed.last_error = clean_line(
            "; ".join(
                [f"{len(poll.unstored)} item(s) not stored, retried next poll: {poll.unstored[0]}"]
                + ([poll.warning] if poll.warning else [])
            ),
            ERROR_CHARS,
        )
    if poll.status == "ok":
        if not poll.unstored:
            feed.etag = poll.etag
            feed.last_modified = poll.last_modified
        feed.items_per_day = schedule.items_per_day(published, at)
        if poll.unconditional:
            feed.last_full_poll_at = at
    if poll.title:
        feed.title = poll.title
    return note


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
    session: Session, sources: Iterable[tuple[int, int, str | None, str | None]]
) -> None:
    """Record that (article, feed, guid, feed link if not the article's URL) was seen; repeats
    are ignored."""
    rows = [{"article_id": a, "feed_id": f, "guid": g, "url": u} for a, f, g, u in sources]
    if rows:
        session.execute(insert(models.ArticleSource).values(rows).on_conflict_do_nothing())


def topic_ids(session: Session) -> dict[str, tuple[int, list[str]]]:
    rows = session.execute(
        select(models.Topic.name, models.Topic.id, models.Topic.recipients).where(
            models.Topic.enabled
        )
    )
    return {name: (topic_id, list(recipients)) for name, topic_id, recipients in rows}


STORY_LOCK = 7210432  # serialises story assignment between concurrent batches


def save_articles(
    session: Session,
    tagged: Sequence[tuple[Article, Sequence[Match]]],
    at: datetime,
    *,
    similarity: float = 0.8,
    window: timedelta = timedelta(days=7),
    channels: Mapping[str, Sequence[str]] | None = None,
    index: stories.StoryIndex | None = None,
) -> dict[str, int]:
    """Insert new articles into stories, with their matches and one pending alert per story and topic.

    `index` carries the story signatures from one call to the next of the same batch, so each
    call loads only articles stored since (ids grow in commit order: all writers take
    STORY_LOCK before inserting).

    An exact copy (same text) of a stored or earlier article adds a source, not a row; a
    near-duplicate joins that article's story, and its matches raise no new alert for topics the
    story already alerted. Repeats insert nothing. Each table gets one multi-row statement per
    call (INSERT … ON CONFLICT through insertmanyvalues), never one per article.
    """
    counts = dict.fromkeys(
        ("articles_new", "duplicates", "stories_new", "story_copies", "matches_new", "alerts_new"),
        0,
    )
    if not tagged:
        return counts
    session.execute(text("select pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK})
    fresh, copies = _split_copies(session, _distinct_renames(session, tagged))
    counts["duplicates"] = len(copies)
    inserted = _insert_articles(session, [article for article, _ in fresh], at)
    counts["articles_new"] = len(inserted)
    # An article whose URL an earlier run or a concurrent batch stored first is a source of it.
    ids = {**known_urls(session, [a.url for a, _ in fresh if a.url not in inserted]), **inserted}
    sources = [(ids[a.url], a) for a, _ in fresh if a.url in ids]
    for article, twin in copies:
        twin_id = twin if isinstance(twin, int) else ids.get(twin)
        if twin_id is not None:
            sources.append((twin_id, article))
    add_sources(session, [(i, a.feed_id, a.guid, a.item_url) for i, a in sources])
    new = [(a, ms, inserted[a.url]) for a, ms in fresh if a.url in inserted]
    story_of = _assign_stories(
        session,
        [(a, i) for a, _, i in new],
        at,
        window,
        index if index is not None else stories.StoryIndex(similarity),
    )
    counts["stories_new"] = sum(is_new for _, is_new in story_of.values())
    counts["story_copies"] = len(story_of) - counts["stories_new"]
    counts["matches_new"], counts["alerts_new"] = _insert_matches_and_alerts(
        session,
        [(i, story_of[a.url][0], m) for a, ms, i in new for m in ms],
        at,
        channels or {},
    )
    return counts


def _split_copies(
    session: Session, tagged: Sequence[tuple[Article, Sequence[Match]]]
) -> tuple[list[tuple[Article, Sequence[Match]]], list[tuple[Article, int | str]]]:
    """(articles to insert, copies): a copy has the same text as a stored article (its id) or
    as one earlier in `tagged`, or that one's URL (the URL).

    Only text that identifies an article counts (stories.identifies: never a title or a short
    summary), and never boilerplate: a text under several headlines (a teaser, a consent
    wall) stands for no article, so those articles stay apart, and out of story clustering too.
    """
    hashes = {a.content_hash for a, _ in tagged if stories.identifies(a.text, a.text_source)}
    stored: dict[str, list[tuple[int, str, str]]] = {}  # hash -> (id, URL, title), oldest first
    titles: dict[str, set[tuple[int, str]]] = {}  # content hash -> (feed, title) seen with it
    for article, _ in tagged:
        if article.content_hash in hashes:
            titles.setdefault(article.content_hash, set()).add(
                (article.feed_id, stories.title_key(article.title))
            )
    if hashes:
        rows = session.execute(
            select(
                models.Article.content_hash,
                models.Article.id,
                models.Article.url,
                models.Article.feed_id,
                models.Article.title,
            )
            .where(models.Article.content_hash.in_(hashes))
            .order_by(models.Article.id)
        )
        for digest, article_id, url, feed_id, title in rows:
            stored.setdefault(digest, []).append((article_id, url, title))
            titles[digest].add((feed_id, stories.title_key(title)))
    boilerplate = {digest for digest, seen in titles.items() if _boilerplate(seen)}
    fresh: list[tuple[Article, Sequence[Match]]] = []
    copies: list[tuple[Article, int | str]] = []
    earlier: dict[str, list[tuple[str, str]]] = {}  # hash -> (URL, title) of fresh ones with it
    urls: set[str] = set()
    for article, matches in tagged:
        comparable = article.content_hash in hashes and article.content_hash not in boilerplate
        if not comparable and article.minhash is not None:
            article = replace(article, minhash=None)  # nor does it make a story of its own kind
        # The same text is the same article only under a compatible headline (same_headline).
        twin = next(
            (
                article_id
                for article_id, url, title in stored.get(article.content_hash, [])
                if comparable and url != article.url and stories.same_headline(title, article.title)
            ),
            None,
        )
        first = next(
            (
                url
                for url, title in earlier.get(article.content_hash, [])
                if comparable and stories.same_headline(title, article.title)
            ),
            None,
        )
        if twin is not None:
            copies.append((article, twin))
        elif first is not None:
            copies.append((article, first))
        elif article.url in urls:
            copies.append((article, article.url))
        else:
            fresh.append((article, matches))
            urls.add(article.url)
            if comparable:
                earlier.setdefault(article.content_hash, []).append((article.url, article.title))
    return fresh, copies


def _distinct_renames(
    session: Session, tagged: Sequence[tuple[Article, Sequence[Match]]]
) -> list[tuple[Article, Sequence[Match]]]:
    """Articles whose page renamed them (rel=canonical) to a URL that another article, under an
    incompatible headline, holds already or earlier in `tagged`, keep the feed's own link: a
    site whose every page names one canonical URL (its home page, a consent page) must not
    make its stories one."""
    renamed = [a.url for a, _ in tagged if a.item_url]
    if not renamed:
        return list(tagged)
    holders: dict[str, str] = dict(
        session.execute(
            select(models.Article.url, models.Article.title).where(
                models.Article.url.in_(set(renamed))
            )
        ).all()
    )
    kept: list[tuple[Article, Sequence[Match]]] = []
    for article, matches in tagged:
        holder = holders.get(article.url)
        if (
            article.item_url
            and holder is not None
            and not stories.same_headline(holder, article.title)
        ):
            article = replace(article, url=article.item_url, item_url=None)
        holders.setdefault(article.url, article.title)
        kept.append((article, matches))
    return kept


def _boilerplate(seen: set[tuple[int, str]]) -> bool:
    """One text under two headlines that cannot name one article (stories.same_headline): a
    teaser or wall. Copies retitled " - Reuters", "(via AloJapan)" or "(updated)", in one feed
    or many, are still one article."""
    titles = sorted({title for _, title in seen})
    return any(
        not stories.same_headline(one, other)
        for i, one in enumerate(titles)
        for other in titles[i + 1 :]
    )


def _insert_articles(session: Session, articles: Sequence[Article], at: datetime) -> dict[str, int]:
    """Article id by URL of each row actually inserted (a URL stored before is skipped)."""
    if not articles:
        return {}
    rows = []
    for article in articles:
        values: dict[str, Any] = asdict(article)
        del values["guid"], values["item_url"]
        values["fetched_at"] = at
        values["search_document"] = search_document(article.title, article.text)
        rows.append(values)
    table = cast(Table, models.Article.__table__)
    result = session.execute(
        insert(table)
        .values(search=search_vector(bindparam("search_document")))
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.url),
        rows,
    )
    return {url: article_id for article_id, url in result}


def _assign_stories(
    session: Session,
    articles: Sequence[tuple[Article, int]],
    at: datetime,
    window: timedelta,
    index: stories.StoryIndex,
) -> dict[str, tuple[int, bool]]:
    """(story id, whether the story is new) by article URL: joins the most similar stored
    article's story within the window, else starts one with the article as its lead."""
    if not articles:
        return {}
    index.add_all(recent_signatures(session, at - window, after_id=index.newest))
    planned: dict[str, int] = {}  # URL -> story id, or -(position + 1) in `leads` for new ones
    leads: list[tuple[Article, int]] = []
    for article, article_id in articles:
        minhash = stories.from_bytes(article.minhash) if article.minhash else None
        story = index.find(minhash, article.title) if minhash is not None else None
        if story is None:
            leads.append((article, article_id))
            story = -len(leads)
        planned[article.url] = story
        if minhash is not None:
            index.add(str(article_id), story, minhash, article.title)
    new_ids: list[int] = []
    if leads:
        result = session.execute(
            insert(models.Story).returning(models.Story.id, sort_by_parameter_order=True),
            [
                {"first_seen_at": at, "lead_article_id": article_id, "title": article.title}
                for article, article_id in leads
            ],
        )
        new_ids = [story_id for (story_id,) in result]
    lead_urls = {article.url for article, _ in leads}
    story_of = {
        url: (new_ids[-story - 1] if story < 0 else story, url in lead_urls)
        for url, story in planned.items()
    }
    for article, article_id in articles:  # the index lives on into the batch's next call
        if article.minhash and planned[article.url] < 0:
            index.set_story(str(article_id), story_of[article.url][0])
    session.execute(
        update(models.Article),
        [{"id": article_id, "story_id": story_of[a.url][0]} for a, article_id in articles],
    )
    return story_of


def _insert_matches_and_alerts(
    session: Session,
    matched: Sequence[tuple[int, int, Match]],
    at: datetime,
    channels: Mapping[str, Sequence[str]],
) -> tuple[int, int]:
    """Insert (article, story, match) rows and one pending alert per story, topic and channel
    that has none yet; returns (matches inserted, alerts inserted)."""
    topics = topic_ids(session)
    rows = [
        {
            "article_id": article_id,
            "topic_id": topics[match.topic][0],
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
    alerts = []
    for article_id, story_id, match in matched:
        if match.topic not in topics:
            continue
        topic_id, recipients = topics[match.topic]
        match_id = match_ids.get((article_id, topic_id))
        if match_id is None:
            continue
        for channel in ["email", *channels.get(match.topic, [])]:
            alerts.append(
                {
                    "article_id": article_id,
                    "story_id": story_id,
                    "topic_id": topic_id,
                    "match_id": match_id,
                    "channel": channel,
                    "recipients": recipients if channel == "email" else [],
                    "created_at": at,
                    "next_attempt_at": at,
                }
            )
    if not alerts:
        return len(match_ids), 0
    sent = session.execute(
        insert(models.Alert).on_conflict_do_nothing().returning(models.Alert.id), alerts
    )
    return len(match_ids), len(sent.all())


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


def start_run(session: Session, trigger: str, at: datetime) -> int:
    run = models.Run(started_at=at, trigger=trigger, counts={}, errors=[])
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    counts: dict[str, int],
    errors: list[str],
    at: datetime,
    durations: dict[str, float] | None = None,
) -> models.Run:
    run = session.get_one(models.Run, run_id)
    run.counts = counts
    run.durations = durations or {}
    run.errors = [clean_line(error, ERROR_CHARS) for error in errors]
    run.finished_at = at
    return run


def backtest_candidates(
    session: Session, tsquery: str | None, since: datetime, limit: int
) -> list[Any]:
    """Articles published (else fetched) since `since`, narrowed by the GIN-indexed `search`
    tsvector when a tsquery is given; newest first. Rows: id, title, text, language, url, at,
    source."""
    at = func.coalesce(models.Article.published_at, models.Article.fetched_at)
    query = (
        select(
            models.Article.id,
            models.Article.title,
            models.Article.text,
            models.Article.language,
            models.Article.url,
            at.label("at"),
            models.Feed.name.label("source"),
        )
        .join(models.Feed, models.Feed.id == models.Article.feed_id)
        .where(at >= since)
        .order_by(at.desc())
        .limit(limit)
    )
    if tsquery is not None:
        query = query.where(
            literal_column("articles.search").bool_op("@@")(func.to_tsquery("simple", tsquery))
        )
    return list(session.execute(query))


def plan_digest(
    session: Session,
    subscriber: SubscriberConfig,
    start: datetime,
    end: datetime,
    at: datetime,
) -> int:
    """Queue the subscriber's digest for [start, end), one row per channel (email, Apprise);
    how many rows were new (0 when all are already queued or sent)."""
    # An Apprise row keeps the names of the variables holding its URLs, as an email row keeps
    # the addresses: the row is a snapshot of the subscriber, sendable whatever the config says later.
    channels = [("email", [str(e) for e in subscriber.emails])] if subscriber.emails else []
    if subscriber.apprise_env:
        channels.append((subscriber.channel, list(subscriber.apprise_env)))
    queued = 0
    for channel, recipients in channels:
        digest_id = session.scalar(
            insert(models.DigestMail)
            .values(
                subscriber=subscriber.name,
                channel=channel,
                recipients=recipients,
                topics=list(subscriber.topics),
                send_empty=subscriber.send_empty,
                period_start=start,
                period_end=end,
                created_at=at,
                next_attempt_at=at,
            )
            .on_conflict_do_nothing()
            .returning(models.DigestMail.id)
        )
        queued += digest_id is not None
    return queued


def digest_topics(
    session: Session, topics: Sequence[str], start: datetime, end: datetime
) -> list[DigestTopic]:
    """Stories that hit each followed topic (all when none named) in [start, end), one entry each."""
    query = (
        select(models.Topic.name, models.Topic.title, models.Story, models.Match)
        .join(models.Match, models.Match.topic_id == models.Topic.id)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .join(models.Story, models.Story.id == models.Article.story_id)
        .where(models.Match.matched_at >= start, models.Match.matched_at < end)
        .order_by(models.Topic.name, models.Match.id)
    )
    if topics:
        query = query.where(models.Topic.name.in_(topics))
    grouped: dict[str, tuple[str, dict[int, DigestStory]]] = {}
    for name, title, story, match in session.execute(query):
        _, stories_of_topic = grouped.setdefault(name, (title, {}))
        if story.id in stories_of_topic:
            continue  # the first match of a story explains it; copies add sources below
        lead = session.get(models.Article, story.lead_article_id) if story.lead_article_id else None
        stories_of_topic[story.id] = DigestStory(
            title=story.title,
            url=lead.url if lead else "",
            sources=story_sources(session, story.id),
            first_seen=story.first_seen_at,
            snippet=match.snippet,
            highlights=[(int(a), int(b)) for a, b in match.highlights],
        )
    return [
        DigestTopic(name=name, title=title, stories=list(found.values()))
        for name, (title, found) in sorted(grouped.items())
    ]


def story_sources(session: Session, story_id: int) -> list[str]:
    """The configured names (feeds.yaml) of the feeds that carried a story: a feed's own
    <title> is the feed's word, and could claim to be any outlet."""
    rows = session.scalars(
        select(models.Feed.name)
        .join(models.ArticleSource, models.ArticleSource.feed_id == models.Feed.id)
        .join(models.Article, models.Article.id == models.ArticleSource.article_id)
        .where(models.Article.story_id == story_id)
        .distinct()
    )
    return sorted(rows)


def story_copies(session: Session, story_id: int) -> list[tuple[str, str]]:
    """(outlet, url) of every article of a story and every feed that carried it, oldest first;
    the outlet is the feed's configured name, never its own <title>."""
    rows = session.execute(
        select(models.Feed.name, models.Article.url)
        .join(models.ArticleSource, models.ArticleSource.feed_id == models.Feed.id)
        .join(models.Article, models.Article.id == models.ArticleSource.article_id)
        .where(models.Article.story_id == story_id)
        .order_by(models.Article.id, models.Feed.id)
    )
    return list(dict.fromkeys((outlet, url) for outlet, url in rows))


def daily_story_hits(
    session: Session, topics: Sequence[str], days: Sequence[date], zone: str
) -> dict[str, dict[date, int]]:
    """Stories per topic per local calendar day in `zone` (an IANA name) over the given days;
    copies of a story count once."""
    day = func.date(func.timezone(zone, models.Match.matched_at))
    query = (
        select(models.Topic.title, day, func.count(models.Article.story_id.distinct()))
        .join(models.Match, models.Match.topic_id == models.Topic.id)
        .join(models.Article, models.Article.id == models.Match.article_id)
        .where(day >= days[0], day <= days[-1])
        .group_by(models.Topic.title, day)
    )
    if topics:
        query = query.where(models.Topic.name.in_(topics))
    hits: dict[str, dict[date, int]] = {}
    for title, hit_day, count in session.execute(query):
        hits.setdefault(title, {})[hit_day] = count
    return hits
