import pytest
from newswatch.urls import canonical_url


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
