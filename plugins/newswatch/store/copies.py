"""Which new articles are copies of stored ones (same text under a compatible headline), and which are boilerplate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from newswatch import models, stories
from newswatch.records import Article, Match


def split_copies(
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


def distinct_renames(
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
