"""newswatch: poll news feeds, extract articles, tag topics, alert by email.

Stages, in the order ingest.py and pipeline.py run them: poll and feeds -> fetch -> extract ->
topics -> store -> delivery. README.md ("What runs") maps every folder and module.
"""
