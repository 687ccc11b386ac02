"""Channels other than email: Apprise (chat, a subscriber's `apprise_env`) and signed JSON
webhooks (`webhook_env`, delivery.webhooks). A channel's URLs are read from the environment at
send time, by the variable names its outbox row or the config keeps, so no secret is stored
in the database or in topics.yaml; a channel that cannot take a message raises ChannelError,
retried like a refused email."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from newswatch import clock
from newswatch.config.models import WEBHOOK_CHANNEL_PREFIX
from newswatch.settings import Settings


class ChannelError(Exception):
    """A channel could not take a message (unset variable, bad URL, refusal, no answer)."""


def is_webhook(channel: str) -> bool:
    return channel.startswith(WEBHOOK_CHANNEL_PREFIX)


class Channels:
    """Sends to channels by name ("apprise:<subscriber>", "webhook:<subscriber>"), each to the
    URLs in the environment variables it names; `settings` for the webhooks' HTTP client."""

    def __init__(
        self, settings: Settings, env_names: Mapping[str, list[str]] | None = None
    ) -> None:
        self.settings = settings
        self.env_names = dict(env_names or {})

    def only(self, channel: str, names: list[str]) -> Channels:
        """The same sender for one channel, reading the variables an outbox row keeps."""
        return Channels(self.settings, {channel: names})

    def send(self, channel: str, title: str, body: str) -> None:
        """Notify an Apprise channel."""
        import apprise

        notifier = apprise.Apprise()
        for name in self._names(channel, "apprise_env"):
            url = os.environ.get(name)
            if not url:
                raise ChannelError(f"{channel}: environment variable {name} is not set")
            if not notifier.add(url):
                raise ChannelError(f"{channel}: {name} does not hold a valid Apprise URL")
        if not notifier.notify(title=title, body=body):
            raise ChannelError(f"{channel}: the service did not accept the notification")

    def post(self, channel: str, event: dict[str, Any]) -> None:
        """POST a webhook channel its event, signed (delivery.webhooks)."""
        from newswatch.delivery import webhooks

        for name in self._names(channel, "webhook_env"):
            webhooks.post(self.settings, channel, name, event, clock.now())

    def _names(self, channel: str, key: str) -> list[str]:
        names = self.env_names.get(channel)
        if not names:
            raise ChannelError(f"{channel}: no subscriber with {key} by that name in topics.yaml")
        return names
