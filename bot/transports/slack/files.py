"""Files shared in Slack messages, described for tasks and downloaded only when one reads them.

A ``file_share`` message (or a mention with files) lists Slack file objects;
each becomes an :class:`~bot.messages.Attachment` whose ``read`` fetches
``url_private_download`` with the bot token as ``Authorization: Bearer`` (the
app needs the ``files:read`` scope), through the transport's aiohttp session.
Whether a file is of a usable type and small enough is the task's decision
(``tasks/_documents.py``, shared by every platform), made from the declared
name, type and size before anything is downloaded; this module only refuses
bytes that go beyond what Slack declared, so a wrong declaration cannot make
the bot read an unbounded body into memory.

The token goes only to Slack's own file hosts (or the configured API host, a
fake Slack in tests), and redirects are not followed: a URL in an event is not
a reason to hand the token to anyone else.
"""

from __future__ import annotations

import logging
from functools import partial
from urllib.parse import urlsplit

import aiohttp

from bot.errors import UserError
from bot.messages import Attachment
from bot.transports.slack.payloads import SlackFile

log = logging.getLogger(__name__)

#: Read at most this much of a file whose size Slack did not state.
UNDECLARED_LIMIT = 32 * 1024 * 1024
_CHUNK = 64 * 1024
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=60)
_SLACK_FILE_DOMAINS = ("slack.com", "slack-gov.com")


class FileDownloader:
    """Makes attachments of shared files; their bytes come through ``session`` with ``token``."""

    def __init__(self, session: aiohttp.ClientSession, token: str, api_url: str) -> None:
        self._session = session
        self._token = token
        api = urlsplit(api_url)
        self._api_origin = (api.scheme, api.netloc)

    def attachment(self, file: SlackFile) -> Attachment:
        """The file as the core sees it; nothing is downloaded until ``read`` is awaited."""
        name = file.name or file.title or f"file-{file.id}"
        return Attachment(name, file.mimetype, file.size, partial(self.download, file, name))

    def trusted(self, url: str) -> bool:
        """Whether the bot token may be sent to ``url``: Slack's hosts over HTTPS, or the API's."""
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) == self._api_origin:
            return True
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and any(
            host == domain or host.endswith(f".{domain}") for domain in _SLACK_FILE_DOMAINS
        )

    async def download(self, file: SlackFile, name: str) -> bytes:
        """The file's bytes, or a :class:`UserError` whose one line says what went wrong."""
        url = file.url_private_download or file.url_private
        if url is None:
            raise UserError(
                f"Slack does not let me download {name} (shared from another workspace, "
                "or hidden by the plan's limits); upload it here again."
            )
        if not self.trusted(url):
            log.warning(
                "Slack: not sending the token to %s for file %s", urlsplit(url).netloc, file.id
            )
            raise UserError(f"I could not download {name} from Slack; send it again.")
        if self._session.closed:
            raise UserError(f"I could not download {name}: the bot is shutting down.")
        limit = file.size if file.size is not None else UNDECLARED_LIMIT
        try:
            return await self._fetch(url, name, limit)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("Slack: could not download file %s: %s", file.id, type(exc).__name__)
            raise UserError(f"I could not download {name} from Slack; send it again.") from None

    async def _fetch(self, url: str, name: str, limit: int) -> bytes:
        headers = {"Authorization": f"Bearer {self._token}"}
        async with self._session.get(
            url, headers=headers, allow_redirects=False, timeout=DOWNLOAD_TIMEOUT
        ) as response:
            if response.status in (301, 302, 303, 307, 308, 401, 403) or (
                response.status == 200 and response.content_type == "text/html"
            ):
                # Without files:read Slack answers with a sign-in page (or a redirect to one).
                log.info("Slack: file download answered %s (files:read missing?)", response.status)
                raise UserError(
                    f"I could not download {name} from Slack; the app may lack the "
                    "files:read scope."
                )
            response.raise_for_status()
            data = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK):
                data += chunk
                if len(data) > limit:
                    raise UserError(f"{name} is bigger than Slack said it was; send it again.")
            return bytes(data)
