"""Messages rendered from records, pure: the alert, digest and notice emails and the webhook's
JSON body, with the helpers they share (header safety, mailboxes, Message-IDs, safe links, span
marking) in common, each written once."""
