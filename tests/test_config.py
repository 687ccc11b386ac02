from pathlib import Path

import pytest

from newswatch.config.load import ConfigError, load_config

REPO = Path(__file__).resolve().parents[1]

TOPICS = """
recipients: [desk@example.com]
topics:
  - name: taiwan
    keywords: [Taiwan]
"""
FEEDS = """
feeds:
  - name: AloJapan
    url: https://alojapan.com/feed/
"""


def write(folder: Path, feeds: str = FEEDS, topics: str = TOPICS) -> Path:
    (folder / "feeds.yaml").write_text(feeds)
    (folder / "topics.yaml").write_text(topics)
    return folder


def test_repository_config_loads_with_the_required_topics() -> None:
    config = load_config(REPO / "config")
    names = {topic.name for topic in config.topics}
    assert {"taiwan", "tariffs", "rare-earths", "defense-spending", "us-japan-relations"} <= names
    assert any(feed.url == "https://alojapan.com/feed/" for feed in config.feeds)


def test_bad_feed_url_names_file_entry_and_field(tmp_path: Path) -> None:
    feeds = FEEDS + "  - name: Kyodo\n    url: ftp://kyodo.example/rss\n"
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, feeds=feeds))
    message = str(error.value)
    assert "feeds.yaml" in message
    assert "feeds[1] ('Kyodo')" in message
    assert "field 'url'" in message


def test_missing_keywords_is_reported_for_its_topic(tmp_path: Path) -> None:
    topics = TOPICS + "  - name: tariffs\n    title: Tariffs\n"
    with pytest.raises(
        ConfigError, match=r"topics\.yaml: topics\[1\] \('tariffs'\): field 'keywords'"
    ):
        load_config(write(tmp_path, topics=topics))


def test_unknown_key_is_an_error_not_ignored(tmp_path: Path) -> None:
    topics = TOPICS + "    keywrods: [typo]\n"
    with pytest.raises(ConfigError, match=r"topics\[0\] \('taiwan'\): field 'keywrods'"):
        load_config(write(tmp_path, topics=topics))


def test_duplicate_feed_name_is_an_error(tmp_path: Path) -> None:
    feeds = FEEDS + "  - name: AloJapan\n    url: https://other.example/feed\n"
    with pytest.raises(
        ConfigError, match=r"feeds\[1\]: field 'name': 'AloJapan' repeats feeds\[0\]"
    ):
        load_config(write(tmp_path, feeds=feeds))


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"feeds\.yaml: not valid YAML"):
        load_config(write(tmp_path, feeds="feeds: [\n"))


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "topics.yaml").write_text(TOPICS)
    with pytest.raises(ConfigError, match=r"feeds\.yaml: file not found"):
        load_config(tmp_path)


def test_topic_without_any_recipient_is_an_error(tmp_path: Path) -> None:
    topics = "topics:\n  - name: taiwan\n    keywords: [Taiwan]\n"
    with pytest.raises(ConfigError, match=r"topics\[0\] \('taiwan'\): field 'recipients'"):
        load_config(write(tmp_path, topics=topics))


def test_bad_recipient_address_is_reported(tmp_path: Path) -> None:
    topics = TOPICS + "    recipients: [not-an-address]\n"
    with pytest.raises(ConfigError, match=r"topics\[0\] \('taiwan'\): field 'recipients\.0'"):
        load_config(write(tmp_path, topics=topics))
