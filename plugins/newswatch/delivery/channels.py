"""Apprise channels (chat, webhooks): a subscriber's URLs are read from the environment at
send time, by the variable names its outbox row keeps, so no secret is stored in the database
or in topics.yaml; a channel that cannot take a notification raises ChannelError, retried like
a refused email."""

from __future__ import annotations

import os
from collections.abc import Mapping


class ChannelError(Exception):
    """An Apprise channel could not take a notification (unset variable, bad URL, refusal)."""


class AppriseChannels:
    """Sends alerts to subscribers' Apprise URLs, read from the environment at send time."""

    def __init__(self, env_names: Mapping[str, list[str]] | None = None) -> None:
        self.env_names = dict(env_names or {})

    def send(self, channel: str, title: str, body: str) -> None:
        import apprise

        names = self.env_names.get(channel)
        if not names:
            raise ChannelError(
                f"{channel}: no subscriber with apprise_env by that name in topics.yaml"
            )
        notifier = apprise.Apprise()
        for name in names:
            url = os.environ.get(name)
            if not url:
                raise ChannelError(f"{channel}: environment variable {name} is not set")
            if not notifier.add(url):
                raise ChannelError(f"{channel}: {name} does not hold a valid Apprise URL")
        if not notifier.notify(title=title, body=body):
            raise ChannelError(f"{channel}: the service did not accept the notification")
