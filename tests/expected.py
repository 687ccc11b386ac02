"""What the bundled sample news day must produce: the exact set of (topic, article title) alerts."""

TAKAICHI = "Japan sounds out U.S. on Takaichi visit in late March for Trump summit"

SAMPLE_DAY_ALERTS = {
    ("taiwan", TAKAICHI),
    ("tariffs", TAKAICHI),
    ("rare-earths", TAKAICHI),
    ("defense-spending", TAKAICHI),
    ("us-japan-relations", TAKAICHI),
    ("tariffs", "Toyota warns U.S. tariffs will cut profit by $9 billion"),
    ("rare-earths", "China tightens export controls on rare earth magnets"),
    ("defense-spending", "Seoul raises defence spending for fourth year"),
}
# The reader of the repository's topics.yaml gets each of the four stories once, in one message
# (the Takaichi story lists its five topics).
SAMPLE_DAY_MESSAGES = len({title for _, title in SAMPLE_DAY_ALERTS})
