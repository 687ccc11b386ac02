"""newswatch: poll news feeds, extract articles, tag topics, alert by email.

Stages, in the order pipeline.py runs them: feeds -> fetch -> extract -> topics -> store -> alerts.
"""
