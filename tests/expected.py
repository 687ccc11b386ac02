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
