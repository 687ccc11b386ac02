from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newswatch.urls import address_key, canonical_url


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        (
            "https://alojapan.com/1463/takaichi/?utm_source=rss&utm_medium=rss&utm_campaign=x",
            "https://alojapan.com/1463/takaichi/",
        ),
        ("HTTPS://Example.COM:443/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/story?id=5&fbclid=abc#comments", "https://example.com/story?id=5"),
        ("/news/1", "http://feeds.example/news/1"),
    ],
)
def test_canonical_form(raw: str, canonical: str) -> None:
    assert canonical_url(raw, base="http://feeds.example/rss") == canonical


@pytest.mark.parametrize(
    "raw", ["mailto:desk@example.com", "javascript:alert(1)", "ftp://x.example/a", ""]
)
def test_non_http_links_are_unusable(raw: str) -> None:
    assert canonical_url(raw) is None


urls = st.builds(
    "{}://{}{}/{}{}{}".format,
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    st.sampled_from(["news.example", "NEWS.Example", "a.b.example"]),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.text(alphabet="abcxyz019-_/", max_size=20),
    st.lists(
        st.tuples(
            st.sampled_from(["id", "p", "utm_source", "utm_medium", "fbclid", "gclid", "q"]),
            st.text(alphabet="abc123", min_size=1, max_size=5),
        ),
        max_size=4,
    ).map(lambda pairs: ("?" + "&".join(f"{k}={v}" for k, v in pairs)) if pairs else ""),
    st.sampled_from(["", "#top", "#comments"]),
)


@settings(max_examples=300, deadline=None)
@given(urls)
def test_canonical_form_is_idempotent_and_clean(raw: str) -> None:
    canonical = canonical_url(raw)
    assert canonical is not None
    assert canonical_url(canonical) == canonical
    parts = urlsplit(canonical)
    assert parts.fragment == "" and parts.hostname == parts.hostname.lower()  # type: ignore[union-attr]
    assert not any(
        key.startswith("utm_") or key in ("fbclid", "gclid") for key, _ in parse_qsl(parts.query)
    )


@settings(max_examples=200, deadline=None)
@given(urls, st.sampled_from(["utm_campaign=x", "fbclid=1", "gclid=2"]))
def test_tracking_parameters_never_change_the_canonical_form(raw: str, tracker: str) -> None:
    base, _, fragment = raw.partition("#")
    tracked = base + ("&" if "?" in base else "?") + tracker + (f"#{fragment}" if fragment else "")
    assert canonical_url(tracked) == canonical_url(raw)


@pytest.mark.parametrize(
    "spelling",
    [
        "https://News.Example/wire/feed",
        "https://news.example/wire/feed/",
        "https://news.example/wire//feed?utm_source=mover",
        "https://news.example:443/wire/feed#top",
    ],
)
def test_spellings_of_one_feed_address_share_a_key(spelling: str) -> None:
    assert address_key(spelling) == address_key("https://news.example/wire/feed")


def test_distinct_addresses_keep_distinct_keys() -> None:
    base = address_key("https://news.example/wire/feed")
    for other in [
        "https://news.example/wire/feed?id=2",
        "https://news.example/wire/feeds",
        "http://other.example/wire/feed",
    ]:
        assert address_key(other) != base
