"""Emails rendered from records, pure: alert, digest and notice, with the helpers they share
(header safety, mailboxes, Message-IDs, safe links, span marking) in common, each written once."""
