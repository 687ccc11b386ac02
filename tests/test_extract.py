import asyncio

from newswatch import sample_day, stories
from newswatch.extract import extract_article, plain_text, wall_marker
from newswatch.records import Article, FeedItem, Page
from newswatch.workers import CpuPool


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
    html = sample_day.page(name).encode()
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

    async def pooled() -> list[Article]:
        async with CpuPool(2) as pool:
            return list(
                await asyncio.gather(
                    *(pool.run("extract", 60, extract_article, i, p) for i, p in jobs)
                )
            )

    assert asyncio.run(pooled()) == [extract_article(i, p) for i, p in jobs]


def test_canonical_link_names_the_article_and_keeps_the_feed_link() -> None:
    html = (
        b"<html><head><link rel='canonical' href='/news/1?utm_source=rss'></head>"
        b"<body><article><p>" + b"Tariff words here. " * 30 + b"</p></article></body></html>"
    )
    page = Page(url="http://127.0.0.1/a", final_url="http://127.0.0.1/a?x=1", status=200, html=html)
    article = extract_article(item(), page)
    assert article.url == "http://127.0.0.1/news/1"
    assert article.item_url == "http://127.0.0.1/a"


def test_canonical_link_to_another_site_is_ignored() -> None:
    html = b"<html><head><link rel=canonical href='https://other.example/x'></head><body></body></html>"
    page = Page(url="http://127.0.0.1/a", final_url="http://127.0.0.1/a", status=200, html=html)
    article = extract_article(item(summary="Feed text."), page)
    assert article.url == "http://127.0.0.1/a" and article.item_url is None


def test_plain_text_drops_scripts_and_stays_linear_on_unclosed_tags() -> None:
    assert plain_text("<p>Hi <script>alert(1)</script>there</p><style>p{}</style>") == "Hi there"
    assert plain_text("ok <script>never closed") == "ok"
    assert plain_text("<" * 200_000 + "b") == "<" * 200_000 + "b"


CONSENT = "We use cookies to improve your visit. Accept all or manage your privacy choices."


def test_a_consent_page_is_a_wall_whatever_the_headline() -> None:
    for headline in ["Toyota warns of tariff hit", "トヨタ、関税で業績悪化を警告", ""]:
        assert wall_marker(CONSENT, headline) == "we use cookies"


def test_an_article_that_tells_its_headline_is_no_wall_though_it_names_cookies() -> None:
    story = (
        "The regulator fined three publishers over cookie banners: 'Accept all' was easy, "
        "refusing was not. The publishers will change their cookie policy pages."
    )
    assert wall_marker(story, "Regulator fines publishers over cookie banners") is None
    japanese = "政府は同意する方針を示し、クッキーを使用する広告の規制を強化した。"
    assert wall_marker(japanese, "クッキー広告の規制強化") is None
    assert wall_marker(japanese, "トヨタ決算") == "クッキーを使用"


def test_an_article_carries_its_story_signature_only_when_its_text_identifies_it() -> None:
    long = extract_article(
        item(content="<p>" + "Taiwan coast guard drills near Kinmen. " * 8), None
    )
    bare = extract_article(item(title="Taiwan votes"), None)
    assert long.minhash == stories.to_bytes(stories.signature(long.text))
    assert bare.text_source == "title" and bare.minhash is None
