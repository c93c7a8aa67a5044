"""Which Telegram updates were already handled, so a re-delivered one runs once across workers.

Telegram posts an update again when the webhook answered slowly or failed, and
with several workers behind one URL the retry may reach another process. The
memory therefore lives in the database, in the table Slack's event ids use
(:func:`storage.events.claim_event`), keyed by the bot: update ids count per bot.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from storage.db import Database
from storage.events import claim_event, prune_events
from storage.models import utcnow

log = logging.getLogger(__name__)

#: Telegram stops re-delivering an update within a day.
MEMORY = timedelta(days=1)
_PRUNE_EVERY = 600.0


class HandledUpdates:
    """Claims update ids of one bot in the shared ``processed_events`` table."""

    def __init__(self, db: Database, bot_id: int) -> None:
        self._db = db
        self.key = f"telegram:{bot_id}"
        self._last_prune = 0.0

    async def first_delivery(self, update_id: int) -> bool:
        """True unless this update was handled before, here or by another worker.

        If the database cannot be asked, the answer is True: a rare duplicate
        reply beats losing the user's message.
        """
        try:
            return await self._claim(update_id)
        except (SQLAlchemyError, OSError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("Telegram: could not check update %d for a repeat: %s", update_id, detail)
            return True

    async def _claim(self, update_id: int) -> bool:
        async with self._db.session() as session:
            first = await claim_event(session, self.key, str(update_id))
            if time.monotonic() - self._last_prune > _PRUNE_EVERY:
                self._last_prune = time.monotonic()
                await prune_events(session, utcnow() - MEMORY)
        return first
