import time
from importlib import resources

from newswatch.extract import extract_all, extract_article, plain_text
from newswatch.records import FeedItem, Page


def item(**kw: str) -> FeedItem:
    values = {"summary": "", "content": "", "title": "A title"} | kw
    return FeedItem(
        feed_id=1,
        url="http://127.0.0.1/a",
        link="http://127.0.0.1/a",
        guid=None,
        author=None,
        published_at=None,
        **values,  # type: ignore[arg-type]
    )


def sample_page(name: str) -> Page:
    html = (resources.files("newswatch") / "sample_day" / name).read_bytes()
    return Page(url="http://127.0.0.1/a", final_url="http://127.0.0.1/a", status=200, html=html)


def test_page_text_is_the_article_without_boilerplate() -> None:
    article = extract_article(item(), sample_page("takaichi-trump.html"))
    assert article.text_source == "page"
    assert article.text.startswith("TOKYO – Japan has sounded out the United States")
    assert "defense spending" in article.text
    for boilerplate in ("Recent Posts", "Post Comment", "All rights reserved", "MaryInOsaka"):
        assert boilerplate not in article.text
    assert article.language == "en-us"


def test_page_without_text_falls_back_to_feed_content() -> None:
    empty = Page(
        url="u", final_url="u", status=200, html=b"<html><body><nav>Home</nav></body></html>"
    )
    article = extract_article(item(content="<p>Seoul raises defence spending.</p>"), empty)
    assert (article.text_source, article.text) == ("feed_content", "Seoul raises defence spending.")


def test_failed_page_falls_back_to_summary_and_keeps_the_reason() -> None:
    failed = Page(url="u", final_url="u", status=404, html=None, error="HTTP 404")
    article = extract_article(item(summary="Toyota &#8211; tariffs bite [&#8230;]"), failed)
    assert article.text_source == "feed_summary"
    assert article.text == "Toyota – tariffs bite […]"
    assert article.fetch_error == "HTTP 404"


def test_item_with_nothing_but_a_title_uses_the_title() -> None:
    article = extract_article(item(title="Taiwan votes"), None)
    assert (article.text_source, article.text) == ("title", "Taiwan votes")


def test_same_text_gives_same_hash_whatever_the_spacing() -> None:
    a = extract_article(item(content="Taiwan  votes\ntoday"), None)
    b = extract_article(item(content="taiwan votes today"), None)
    assert a.content_hash == b.content_hash


def test_plain_text_decodes_entities_and_drops_tags() -> None:
    assert plain_text("<p>A &amp; B</p><p>C&#8217;s</p>") == "A & B C’s"
    assert plain_text("<b>bold</b>\n\n<i>text</i>") == "bold\ntext"


def sample_jobs() -> list[tuple[FeedItem, Page | None]]:
    names = [
        "takaichi-trump.html",
        "cherry-blossom.html",
        "rare-earth-controls.html",
        "taiwanese-pineapple.html",
    ]
    return [(item(title=n), sample_page(n)) for n in names] + [
        (item(title="no page", summary="Only this."), None)
    ]


def test_worker_processes_extract_the_same_as_inline() -> None:
    jobs = sample_jobs()
    inline = [extract_article(i, p) for i, p in jobs]
    assert extract_all(jobs, workers=2, timeout=60) == inline


def test_page_past_the_deadline_falls_back_to_the_feed_text() -> None:
    widget = "<div class='w'><span>x</span><a href='/a'>y</a></div>"
    heavy = f"<html><body><article><p>{'Tariff words here. ' * 50}</p></article>{widget * 40000}</body></html>"
    page = Page(url="u", final_url="u", status=200, html=heavy.encode())
    jobs = [(item(title=f"t{i}", summary="Feed summary about tariffs."), page) for i in range(4)]
    started = time.monotonic()
    results = extract_all(jobs, workers=2, timeout=0.2)
    assert time.monotonic() - started < 30
    assert (
        results[0].text_source == "feed_summary"
        and results[0].fetch_error == "extraction timed out"
    )
