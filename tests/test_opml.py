"""`feeds import` and `feeds export`: OPML as Miniflux, FreshRSS and Feedly write it and as an
attacker would (tests/data/opml/), through the real commands against a real database."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import T0, copy_config
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from typer.testing import CliRunner, Result

from newswatch import clock, models
from newswatch.cli.main import app
from newswatch.config.edit import edit_feeds
from newswatch.config.load import load_config
from newswatch.config.models import FEED_NAME_CHARS, FeedConfig
from newswatch.config.opml import MAX_OPML_BYTES, Outline, parse_opml, plan_import
from newswatch.settings import Settings
from newswatch.store import db
from newswatch.urls import address_key

OPML = Path(__file__).parent / "data" / "opml"
DOWN = "postgresql://postgres@127.0.0.1:1/newswatch"  # nothing listens on port 1
TOPICS = "recipients: [desk@example.com]\ntopics:\n  - {name: taiwan, keywords: [Taiwan]}\n"
COMMENTED = """\
# Feeds newswatch polls.

feeds:
  # wire services first
  - name: "Kyodo News"   # quoted on purpose
    url: https://english.kyodonews.net/rss/news.xml

  - {name: Flow Daily, url: https://flow.example/rss}
  # - name: Old Times     (gone since March)
  #   url: https://old.example/feed
# end of feeds
"""


def feeds(*args: str) -> Result:
    return CliRunner().invoke(app, ["feeds", *args])


def names_in_store(settings: Settings) -> set[str]:
    with db.transaction(db.session_factory(settings)) as session:
        return set(session.scalars(select(models.Feed.name)))


@pytest.fixture
def commented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder whose feeds.yaml has comments, blank lines and a one-line entry."""
    folder = tmp_path / "commented"
    folder.mkdir()
    (folder / "feeds.yaml").write_text(COMMENTED)
    (folder / "topics.yaml").write_text(TOPICS)
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def offline(commented: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The commented config and no database: what refuses a file must not need one."""
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", DOWN)
    monkeypatch.delenv("NEWSWATCH_ALLOW_HOSTS", raising=False)
    return commented


MINIFLUX_REPORT = """\
already there as 'AloJapan': https://alojapan.com/feed/
added 'Nippon.com': https://www.nippon.com/en/feed/
already there as 'Focus Taiwan': https://focustaiwan.tw/rss/aall.xml
added 'The Korea Herald': https://www.koreaherald.com/common/rss_xml.php?ct=102
added 'The Diplomat (2)': https://thediplomat.com/regions/east-asia/feed/ (the name 'The Diplomat' is taken)
added 'South China Morning Post - China': https://www.scmp.com/rss/4/feed
already there as 'Kyodo News': https://english.kyodonews.net/rss/news.xml
already there as 'Nikkei Asia': https://asia.nikkei.com/rss/feed/nar?utm_source=miniflux
added 'Rare Earth Exchanges': https://rareearthexchanges.com/feed/
5 added, 4 already there, 0 skipped
"""


def test_a_miniflux_export_adds_the_new_feeds_and_says_what_became_of_each(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_config(settings, tmp_path, monkeypatch)
    before = (folder / "feeds.yaml").read_text()
    result = feeds("import", str(OPML / "miniflux.opml"))
    assert result.exit_code == 0, result.output
    assert result.stdout == MINIFLUX_REPORT
    after = (folder / "feeds.yaml").read_text()
    assert after.startswith(before)  # appended below; the file's own lines as they were
    assert yaml.safe_load(after)["feeds"][6:] == [
        {"name": "Nippon.com", "url": "https://www.nippon.com/en/feed/"},
        {
            "name": "The Korea Herald",
            "url": "https://www.koreaherald.com/common/rss_xml.php?ct=102",
        },
        {"name": "The Diplomat (2)", "url": "https://thediplomat.com/regions/east-asia/feed/"},
        {"name": "South China Morning Post - China", "url": "https://www.scmp.com/rss/4/feed"},
        {"name": "Rare Earth Exchanges", "url": "https://rareearthexchanges.com/feed/"},
    ]
    # The store learns it at once, as after `feeds add`.
    assert names_in_store(settings) == {feed.name for feed in load_config(folder).feeds}


@pytest.mark.parametrize(
    "export", ["miniflux.opml", "freshrss.opml", "feedly.opml", "shift_jis.opml", "latin1.opml"]
)
def test_import_export_and_import_again_changes_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, export: str
) -> None:
    folder = copy_config(settings, tmp_path, monkeypatch)
    assert feeds("import", str(OPML / export)).exit_code == 0
    imported = (folder / "feeds.yaml").read_bytes()
    written = tmp_path / "newswatch.opml"
    result = feeds("export", "-o", str(written))
    assert result.exit_code == 0, result.output
    configured = load_config(folder).feeds
    assert result.stdout == f"{len(configured)} feeds written to {written}\n"

    again = feeds("import", str(written))
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [
        *(f"already there as {feed.name!r}: {feed.url}" for feed in configured),
        f"0 added, {len(configured)} already there, 0 skipped",
    ]
    assert (folder / "feeds.yaml").read_bytes() == imported


def test_a_dry_run_says_what_would_change_and_writes_nothing(
    settings: Settings, commented: Path
) -> None:
    before = (commented / "feeds.yaml").read_bytes()
    result = feeds("import", "--dry-run", str(OPML / "feedly.opml"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "would add 'Reuters Asia': "
        "https://www.reutersagency.com/feed/?best-regions=asia&post_type=best"
    )
    assert lines[-1] == (
        "dry run, feeds.yaml not changed: 5 would be added, 1 already there, 0 skipped"
    )
    assert (commented / "feeds.yaml").read_bytes() == before
    assert names_in_store(settings) == set()


def test_comments_and_layout_of_feeds_yaml_survive_an_import(
    settings: Settings, commented: Path
) -> None:
    result = feeds("import", str(OPML / "feedly.opml"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "already there as 'AP Asia' (repeats outline 3): "
        "https://rsshub.app/apnews/topics/asia-pacific",
        "5 added, 1 already there, 0 skipped",
    ]
    # Feedly's text is the name the reader showed (its title is the feed's own); one-line
    # entries are followed by one-line entries, quoted where PyYAML would misread them.
    added = (
        "  - {name: Reuters Asia, url: "
        '"https://www.reutersagency.com/feed/?best-regions=asia&post_type=best"}\n'
        "  - {name: AP Asia, url: https://rsshub.app/apnews/topics/asia-pacific}\n"
        "  - {name: The Diplomat, url: https://thediplomat.com/feed/}\n"
        "  - {name: Kyodo News (2), url: https://english.kyodonews.net/rss/business.xml}\n"
        "  - {name: East Asia Forum, url: https://eastasiaforum.org/feed/}\n"
    )
    text = (commented / "feeds.yaml").read_text()
    assert text == COMMENTED.replace("  # - name: Old Times", added + "  # - name: Old Times")
    assert len(load_config(commented).feeds) == 7


def test_freshrss_scrapers_are_skipped_and_addresses_compared_as_one(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config(settings, tmp_path, monkeypatch)
    result = feeds("import", str(OPML / "freshrss.opml"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"] == {"added": 4, "already_there": 2, "skipped": 1}
    rows = {row["label"]: row for row in report["outlines"]}
    assert rows["Japan Today – Politics"]["result"] == "added"
    assert rows["Japan Today – Politics"]["folder"] == "Japan"
    assert rows["Station notices (scraped)"] == {
        "outline": 7,
        "label": "Station notices (scraped)",
        "folder": "Japan",
        "result": "skipped",
        "name": None,
        "url": None,
        "enabled": None,
        "note": "type 'HTML+XPath': not a feed",
    }
    # Upper-case host and a trailing slash: the feed feeds.yaml has.
    assert rows["Focus Taiwan"]["result"] == "already_there"
    assert rows["Focus Taiwan"]["name"] == "Focus Taiwan"


HOSTILE_REPORT = """\
added 'Healthy Wire': https://healthy.example/rss
skipped outline 2 ('A note without a feed'): no xmlUrl: not a feed
skipped outline 3 ('Blank address'): no xmlUrl: not a feed
skipped outline 4 ('Script'): non-http(s) URL 'javascript:alert(document.cookie)'
skipped outline 5 ('Local file'): non-http(s) URL 'file:///etc/passwd'
skipped outline 6 ('Router admin'): 192.168.1.1, a non-public address (private); allow it with NEWSWATCH_ALLOW_HOSTS
skipped outline 7 ('Cloud metadata'): 169.254.169.254, a non-public address (link-local); allow it with NEWSWATCH_ALLOW_HOSTS
skipped outline 8 ('Loopback v6'): ::1, a non-public address (loopback); allow it with NEWSWATCH_ALLOW_HOSTS
skipped outline 9 ('Localhost'): localhost resolves to 127.0.0.1, a non-public address (loopback); allow it with NEWSWATCH_ALLOW_HOSTS
skipped outline 10 ('Octal loopback'): ambiguous numeric host '0177.0.0.1'
skipped outline 11 ('No host'): URL without a host
skipped outline 12 ('Bad port'): unreadable URL: Port out of range 0-65535
skipped outline 13 ('Relative'): non-http(s) URL '/feed.xml'
added 'desrever Times second line': https://bidi.example/rss
added 'https://nameless.example/feed': https://nameless.example/feed
added 'Healthy Wire (2)': https://other-healthy.example/rss (the name 'Healthy Wire' is taken)
added 'healthy wire (3)': https://third-healthy.example/rss (the name 'healthy wire' is taken)
already there as 'Healthy Wire' (repeats outline 1): HTTPS://HEALTHY.example/rss/?utm_source=opml
5 added, 1 already there, 12 skipped
"""


def test_each_bad_outline_is_skipped_alone_with_its_reason(
    settings: Settings, commented: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSWATCH_ALLOW_HOSTS")
    result = feeds("import", str(OPML / "hostile-outlines.opml"))
    assert result.exit_code == 0, result.output
    assert result.stdout == HOSTILE_REPORT
    names = [feed.name for feed in load_config(commented).feeds]
    assert names[2:] == [
        "Healthy Wire",
        "desrever Times second line",  # direction overrides dropped, a line separator a space
        "https://nameless.example/feed",  # no text, no title: its address, as `feeds add` does
        "Healthy Wire (2)",
        "healthy wire (3)",
    ]


def test_an_allowed_private_host_is_imported(
    settings: Settings, commented: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_ALLOW_HOSTS", "192.168.1.0/24,localhost")
    result = feeds("import", str(OPML / "hostile-outlines.opml"))
    assert "added 'Router admin': http://192.168.1.1/rss\n" in result.stdout
    assert "added 'Localhost': http://localhost/feed.xml\n" in result.stdout
    assert "skipped outline 8 ('Loopback v6'): ::1, a non-public" in result.stdout


def test_exported_opml_holds_every_feed_whatever_its_name(
    settings: Settings, commented: Path
) -> None:
    hard: list[dict[str, Any]] = [
        {"name": 'Ampersand & <Angle> "Quoted"', "url": "https://a.example/rss?x=1&y=<2>"},
        {"name": "It's ]]> over", "url": "https://b.example/feed", "enabled": False},
        {"name": "日本経済新聞 電子版", "url": "https://nikkei.example/rss"},
        {"name": "=?utf-8?q?Subject?= 📰", "url": "https://c.example/rss"},
        {"name": "n" * FEED_NAME_CHARS, "url": "https://d.example/rss"},
    ]
    (commented / "feeds.yaml").write_text(yaml.safe_dump({"feeds": hard}, allow_unicode=True))
    clock.freeze(T0)
    result = feeds("export")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<opml ')
    root = ET.fromstring(result.stdout_bytes)  # the standard library's parser, not ours
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "newswatch feeds"
    assert parsedate_to_datetime(root.findtext("head/dateCreated") or "") == T0
    outlines = [outline.attrib for outline in root.iterfind("body/outline")]
    assert outlines == [
        {
            "type": "rss",
            "text": feed["name"],
            "title": feed["name"],
            "xmlUrl": feed["url"],
            **({"isComment": "true"} if feed.get("enabled") is False else {}),
        }
        for feed in hard
    ]
    written = commented / "out.opml"
    written.write_text("an older export")
    assert feeds("export", "--output", str(written)).exit_code == 0
    assert written.read_bytes() == result.stdout_bytes  # replaced whole
    assert sorted(p.name for p in commented.iterdir()) == ["feeds.yaml", "out.opml", "topics.yaml"]


def test_a_disabled_feed_comes_back_disabled(
    settings: Settings, commented: Path, tmp_path: Path
) -> None:
    assert feeds("disable", "Flow Daily").exit_code == 0
    written = tmp_path / "out.opml"
    assert feeds("export", "-o", str(written)).exit_code == 0
    (commented / "feeds.yaml").write_text("feeds:\n  - name: Other\n    url: https://o.example/\n")
    result = feeds("import", str(written))
    assert result.exit_code == 0, result.output
    assert "added 'Flow Daily': https://flow.example/rss (disabled, as the file marks it)\n" in (
        result.stdout
    )
    assert [(f.name, f.enabled) for f in load_config(commented).feeds] == [
        ("Other", True),
        ("Kyodo News", True),
        ("Flow Daily", False),
    ]


def test_files_in_other_encodings_are_read_as_they_declare() -> None:
    japanese = parse_opml((OPML / "shift_jis.opml").read_bytes())
    assert [(o.label, o.folder) for o in japanese] == [
        ("ニュース", ""),
        ("NHKニュース", "ニュース"),
        ("朝日新聞デジタル", "ニュース"),
    ]
    (french,) = parse_opml((OPML / "latin1.opml").read_bytes())
    assert french.label == "Le Monde à l'international"


def _big(folder: Path) -> Path:
    path = folder / "big.opml"
    path.write_bytes(b"<opml><body>" + b" " * MAX_OPML_BYTES + b"</body></opml>")
    return path


def _ten_thousand(folder: Path) -> Path:
    rows = "".join(
        f'<outline text="Feed {i}" type="rss" xmlUrl="https://f{i}.example/rss"/>\n'
        for i in range(10_000)
    )
    path = folder / "ten-thousand.opml"
    path.write_text(f'<?xml version="1.0"?>\n<opml version="2.0"><body>\n{rows}</body></opml>\n')
    return path


@pytest.mark.parametrize(
    ("file", "says"),
    [
        (
            "billion-laughs.opml",
            "a DOCTYPE: an OPML file needs none, and its entities are never read",
        ),
        ("external-entity.opml", "a DOCTYPE: an OPML file needs none"),
        ("not-opml.xml", "not OPML: the document is <rss>, not <opml>"),
        ("binary.opml", "unreadable XML at line 1, column 1: not well-formed (invalid token)"),
        ("truncated.opml", "unreadable XML at line 3, column 1: unclosed token"),
        (
            "mislabelled-latin1.opml",
            "unreadable XML at line 3, column 19: not well-formed (invalid token)",
        ),
        (_ten_thousand, "more than 5,000 outlines: expected a list of feeds"),
        (_big, "bytes, at most 5242880 are read"),
        ("missing.opml", "does not exist"),
        (".", "is a directory"),
        ("/dev/zero", "not a regular file (a device, pipe or socket is never read)"),
    ],
)
def test_a_file_that_is_not_a_readable_opml_is_one_line_and_exit_2(
    offline: Path, tmp_path: Path, file: Any, says: str
) -> None:
    before = (offline / "feeds.yaml").read_bytes()
    path = file(tmp_path) if callable(file) else OPML / file
    result = feeds("import", str(path))
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1
    assert says in result.stderr and "Traceback" not in result.stderr
    assert (offline / "feeds.yaml").read_bytes() == before


# Property tests: whatever an outline's attributes hold.

XML_CHARS = st.characters(
    codec="utf-8", exclude_categories=["Cs"], exclude_characters="\ufffe\uffff"
).filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20)
NASTY = "\x00\x1b\x7f\x85\u2028\u202e\u2066\ufeff<>&\"'=?]]>:/@[]%#"
any_text = st.one_of(
    st.text(st.one_of(st.characters(), st.sampled_from(NASTY)), max_size=60),
    st.sampled_from(["", " ", "No", "on", "- x", "12:30", "null", "#1", "n" * 300]),
)
urlish = st.one_of(
    any_text,
    st.builds("{}{}".format, st.sampled_from(["http://", "https://", "HTTPS://"]), any_text),
    st.sampled_from(
        [
            "https://ok.example/rss",
            "https://OK.example/rss/",
            "http://10.0.0.1/feed",
            "https://[::ffff:127.0.0.1]/",
            "https://a.example:0/",
            "https://xn--.example/",
            "https://" + "a" * 2100,
            "https://é.example/rss",
            "https://new.example/feed?a=1,b=2&c",
            "https://new.example/feed/?region=asia",
            "https://new.example/{x}[y]: #z",
        ]
    ),
    st.builds(
        "https://{}.example/{}".format,
        st.sampled_from(["new", "NEW", "other", "ok"]),
        any_text,
    ),
)
EXISTING = [
    ("Kyodo News", "https://english.kyodonews.net/rss/news.xml"),
    ("No", "https://ok.example/rss"),
]


@st.composite
def outlines(draw: st.DrawFn, text: st.SearchStrategy[str] = any_text) -> list[Outline]:
    count = draw(st.integers(0, 6))
    return [
        Outline(
            number=n + 1,
            text=draw(text),
            title=draw(text),
            xml_url=draw(urlish if text is any_text else text),
            kind=draw(st.sampled_from(["", "rss", "RSS", "HTML+XPath", "link"])),
            commented=draw(st.booleans()),
        )
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("property")
    # One-line entries: what is added is written one line each, where `,` and `?` need quotes.
    entries = "".join(f"  - {{name: '{name}', url: '{url}'}}\n" for name, url in EXISTING)
    (folder / "feeds.yaml").write_text(f"feeds:\n{entries}")
    (folder / "topics.yaml").write_text(TOPICS)
    return folder


def refuse_private(url: str) -> str | None:
    return "private" if "10.0.0.1" in url or "127.0.0.1" in url else None


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(outlines())
def test_any_outline_is_a_valid_feed_or_a_reported_skip(
    scratch: Path, outlines: list[Outline]
) -> None:
    fates = plan_import(outlines, EXISTING, refuse_private)
    assert [fate.outline for fate in fates] == outlines  # none is a folder: each has its fate
    added = [fate for fate in fates if fate.action == "added"]
    for fate in fates:
        if fate.action == "skipped":
            assert fate.note.strip()
        else:
            assert address_key(fate.url) in {address_key(url) for url in _urls(added)}
    for fate in added:
        FeedConfig.model_validate({"name": fate.name, "url": fate.url})
        assert fate.url == fate.outline.xml_url.strip() and "private" not in fate.note
    names = [name.casefold() for name, _ in EXISTING] + [fate.name.casefold() for fate in added]
    assert len(set(names)) == len(names)
    keys = [address_key(url) for url in _urls(added)]
    assert len(set(keys)) == len(keys)

    def append(entries: list[dict[str, Any]]) -> None:
        entries.extend({"name": fate.name, "url": fate.url} for fate in added)

    # The whole file as the import would write it validates (YAML quoting included).
    config = edit_feeds(scratch, append, dry_run=True)
    assert [feed.name for feed in config.feeds][len(EXISTING) :] == [f.name for f in added]


def _urls(added: list[Any]) -> Iterator[str]:
    yield from (url for _, url in EXISTING)
    yield from (fate.url for fate in added)


@hypothesis_settings(max_examples=150, deadline=None)
@given(outlines(st.text(XML_CHARS, max_size=60)))
def test_outline_attributes_come_back_from_the_file_exactly(outlines: list[Outline]) -> None:
    opml = ET.Element("opml", version="2.0")
    body = ET.SubElement(opml, "body")
    for outline in outlines:
        attributes = {"text": outline.text, "title": outline.title, "xmlUrl": outline.xml_url}
        ET.SubElement(body, "outline", {**attributes, "type": outline.kind})
    document = ET.tostring(opml, encoding="utf-8")
    read = parse_opml(document)
    assert [(o.text, o.title, o.xml_url, o.kind) for o in read] == [
        (o.text, o.title, o.xml_url, o.kind) for o in outlines
    ]
    plan_import(read, EXISTING, refuse_private)  # never raises
