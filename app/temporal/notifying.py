"""The `send_notification` activity: one notice to one channel — a JSON webhook (HMAC-signed), a
Slack incoming webhook (Block Kit) or email over SMTP (aiosmtplib).

Sent once per key: a delivery is recorded in PostgreSQL (notification_deliveries) as soon as the
receiver accepted it, and an attempt finding it recorded sends nothing (an activity retried after
its worker died, a workflow replayed on another worker). What remains is the short window between
the receiver's answer and that record; webhook receivers also get the key in
`X-Stepladder-Delivery` to drop such a repeat themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import quote

import aiosmtplib
import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from app.db import notifications
from app.domain.notifications import (
    SIGNATURE_HEADER,
    Channel,
    Notice,
    SmtpServer,
    email_message,
    encoded,
    parse_channels,
    signature,
    slack_message,
    webhook_body,
)
from app.settings import Settings, SettingsError
from app.temporal.contracts import NotificationRequest, NotificationResult

DELIVERY_HEADER = "X-Stepladder-Delivery"
log = structlog.stdlib.get_logger("stepladder.notifications")


class DeliveryRefused(RuntimeError):
    """The receiver answered, but not with success (e.g. Slack's 404 "no_service")."""


class NotificationActivities:
    """Sends notices to the channels of settings (`channels` by name); links point at
    `public_url` (the address people open Stepladder at, with its path prefix). `timeout` (s)
    bounds each delivery."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        *,
        public_url: str,
        smtp: SmtpServer | None = None,
        timeout: float = 10.0,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.channels = channels
        self.public_url = public_url.rstrip("/")
        self.smtp = smtp or SmtpServer()
        self.timeout = timeout
        self.environ = environ

    @classmethod
    def from_settings(cls, settings: Settings) -> NotificationActivities:
        """The channels, SMTP server and link base of the worker's settings. Raises
        SettingsError naming what is wrong in NOTIFY_CHANNELS."""
        try:
            channels = parse_channels(settings.notify_channels)
        except ValueError as exc:
            raise SettingsError(f"NOTIFY_CHANNELS: {exc}") from None
        smtp = SmtpServer(
            host=settings.smtp_host, port=settings.smtp_port, username=settings.smtp_username,
            password=settings.smtp_password, starttls=settings.smtp_starttls,
            sender=settings.smtp_from,
        )  # fmt: skip
        return cls(channels, public_url=settings.link_base, smtp=smtp)

    def link(self, channel: Channel, notice: Notice) -> str:
        """The step on its timeline (its approval panel while it waits), chromeless for an
        `embed` channel."""
        embed = "/embed" if channel.embed else ""
        return f"{self.public_url}{embed}/executions/{quote(notice.execution_id)}#step-{quote(notice.step_id)}"

    @activity.defn(name="send_notification")
    async def send_notification(self, request: NotificationRequest) -> NotificationResult:
        """Deliver `request.notice` to `request.channel` unless already delivered. Raises
        ApplicationError (retried) when the receiver fails, non-retryable for a channel that is
        not configured."""
        if await notifications.was_sent(request.key):
            return NotificationResult(delivered=False, duplicate=True)
        channel = self.channels.get(request.channel)
        if channel is None:
            raise ApplicationError(
                f"channel {request.channel!r} is not configured (NOTIFY_CHANNELS)",
                type="UnknownChannel",
                non_retryable=True,
            )
        if channel.type == "email" and not self.smtp.host:
            raise ApplicationError(
                "no SMTP server is configured (SMTP_HOST)", type="NoSmtp", non_retryable=True
            )
        record = {
            "execution_id": request.notice.execution_id, "step_id": request.notice.step_id,
            "channel": channel.name, "channel_type": channel.type, "kind": request.notice.kind,
        }  # fmt: skip
        try:
            await self._deliver(channel, request)
        except (httpx.HTTPError, aiosmtplib.SMTPException, OSError, DeliveryRefused) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            await notifications.record_attempt(request.key, **record, error=message)
            log.warning("notification.failed", **record, error=message,
                        attempt=activity.info().attempt)  # fmt: skip
            raise ApplicationError(message, type=type(exc).__name__) from None
        await notifications.record_attempt(request.key, **record)
        log.info("notification.sent", **record)
        return NotificationResult(delivered=True)

    async def _deliver(self, channel: Channel, request: NotificationRequest) -> None:
        notice, link = request.notice, self.link(channel, request.notice)
        now = datetime.now(UTC)
        if channel.type == "email":
            await self._email(channel, *email_message(notice, link, now))
            return
        if channel.type == "slack":
            body = encoded(slack_message(notice, link, now))
            headers = {"content-type": "application/json"}
        else:
            sent_at = activity.info().current_attempt_scheduled_time.isoformat()
            body = encoded({**webhook_body(notice, link), "sent_at": sent_at})
            headers = {"content-type": "application/json", DELIVERY_HEADER: request.key}
            secret = self.environ.get(channel.secret_env, "") if channel.secret_env else ""
            if secret:
                headers[SIGNATURE_HEADER] = signature(secret, body)
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(channel.url, content=body, headers=headers)
        if response.status_code >= 300:
            raise DeliveryRefused(f"{response.status_code} {response.reason_phrase}".strip())

    async def _email(self, channel: Channel, subject: str, text: str, html: str) -> None:
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(channel.to)
        message["Subject"] = subject
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        await aiosmtplib.send(
            message,
            hostname=self.smtp.host,
            port=self.smtp.port,
            username=self.smtp.username or None,
            password=self.smtp.password or None,
            start_tls=self.smtp.starttls,
            timeout=self.timeout,
        )
