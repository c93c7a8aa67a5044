"""Two ``seqbot run`` workers behind one Slack URL and one Telegram webhook, on one PostgreSQL.

Each test starts worker A and worker B as real processes (see :mod:`tests.scale.cluster`)
and plays the load balancer: it posts each event or update to one worker and the
same one again to the other, as a retrying balancer or the platform's own retry
would. "Exactly once" is asserted only after the duplicate was provably dropped
(the worker that got it logged "already handled"), and "each reminder once" only
after every reminder row is ``sent``, when no claim can be in flight any more.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import POSTGRES_URL, _asyncpg_dsn
from tests.scale.cluster import (
    ROOT,
    Cluster,
    cluster,
    drop_schema,
    new_schema,
    post_text,
    schema_url,
    telegram_texts,
    token_worker,
    until,
)

SLACK_REMINDERS, TELEGRAM_REMINDERS = "D40", 4001

pytestmark = pytest.mark.skipif(
    POSTGRES_URL == "off", reason="SEQBOT_TEST_POSTGRES_URL=off: PostgreSQL tests turned off"
)


async def slack_once(c: Cluster, first: str, text: str, channel: str, event_id: str) -> str:
    """Post to ``first`` and retry on the other worker; returns who answered, once."""
    await c.slack_event(first, text, channel=channel, event_id=event_id)
    await until(lambda: c.slack.posts(channel), f"the answer in {channel}")
    second = c.other(first)
    await c.slack_event(second, text, channel=channel, event_id=event_id, retry=1)
    line = f"event {event_id} was already handled"
    # A second answer ends the wait too, so a broken claim fails at once, on the count.
    await until(lambda: c.workers[second].logged(line) or len(c.slack.posts(channel)) > 1,
                f"worker {second} to drop the retry of {event_id}")  # fmt: skip
    answers = c.slack.posts(channel)
    assert len(answers) == 1, f"{event_id} was answered {len(answers)} times"
    return token_worker(answers[0]["_auth"])


async def telegram_once(c: Cluster, first: str, chat_id: int, text: str) -> list[str]:
    """Post one update to ``first``, then the same update to the other worker."""

    def answers() -> list[str]:
        return telegram_texts(c.telegram, chat_id)

    update = c.telegram_update(chat_id, text)
    await c.telegram_post(first, update)
    await until(answers, f"the answer in chat {chat_id}")
    second = c.other(first)
    await c.telegram_post(second, update)
    line = f"update {update['update_id']} was already handled"
    await until(lambda: c.workers[second].logged(line) or len(answers()) > 1,
                f"worker {second} to drop the repeat")  # fmt: skip
    return answers()


async def test_each_event_and_update_is_handled_once_whichever_worker_gets_it(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as c:
        # A retry after the answer, to the other worker: Slack's retry, or the balancer's.
        assert await slack_once(c, "a", "/help", "D11", "Ev11") == "a"
        assert await slack_once(c, "b", "/help", "D12", "Ev12") == "b"
        assert len(await telegram_once(c, "a", 1101, "/help")) == 1
        assert len(await telegram_once(c, "b", 1102, "/help")) == 1

        # The same delivery reaching both workers at the same moment: one wins the claim.
        burst = range(6)
        await asyncio.gather(*(
            c.slack_event(w, "/help", channel=f"D2{i}", event_id=f"Ev2{i}")
            for i in burst for w in ("a", "b")
        ))  # fmt: skip
        updates = [c.telegram_update(1200 + i, "/help") for i in burst]
        await asyncio.gather(*(c.telegram_post(w, u) for u in updates for w in ("a", "b")))

        def dropped(line: str) -> int:
            return sum(w.logged(line) for w in c.workers.values())

        def settled(answers: int, line: str) -> bool:
            """Answered, and the duplicate dropped; or answered twice (then the count fails)."""
            return answers > 1 or (answers == 1 and dropped(line) > 0)

        def all_settled() -> bool:
            return all(
                settled(len(c.slack.posts(f"D2{i}")), f"event Ev2{i} was already handled")
                and settled(
                    len(telegram_texts(c.telegram, 1200 + i)),
                    f"update {updates[i]['update_id']} was already handled",
                )
                for i in burst
            )

        await until(all_settled, "every answer and every dropped duplicate")
        assert [len(c.slack.posts(f"D2{i}")) for i in burst] == [1] * len(burst)
        assert [len(telegram_texts(c.telegram, 1200 + i)) for i in burst] == [1] * len(burst)
        claims = await c.rows("SELECT platform, count(*) FROM processed_events GROUP BY platform")
        assert {platform: n for platform, n in claims} == {"slack": 8, "telegram:999": 8}


async def test_settings_and_dialogs_started_on_one_worker_continue_on_the_other(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path) as c:
        await c.slack_event("a", "/settings timezone Asia/Tokyo", channel="D31", event_id="Ev31")
        await until(lambda: c.slack.texts("D31"), "the settings answer")
        await c.slack_event("b", "/settings", channel="D31", event_id="Ev32")
        await until(lambda: len(c.slack.texts("D31")) == 2, "the settings on worker b")
        set_on_a, shown_on_b = c.slack.posts("D31")
        assert [token_worker(set_on_a["_auth"]), token_worker(shown_on_b["_auth"])] == ["a", "b"]
        assert "Asia/Tokyo" in c.slack.texts("D31")[1]

        # /remind without a zone asks for one (ctx.ask); the answer reaches the other worker.
        chat = 3101
        await c.telegram_post("a", c.telegram_update(chat, "/remind me tomorrow at 9 to call Anna"))
        await until(lambda: telegram_texts(c.telegram, chat), "the zone question")
        assert "Which time zone are you in?" in telegram_texts(c.telegram, chat)[0]
        await c.telegram_post("b", c.telegram_update(chat, "Europe/Berlin"))
        await until(lambda: len(telegram_texts(c.telegram, chat)) == 2, "the reminder")
        assert telegram_texts(c.telegram, chat)[1].startswith("Time zone set to Europe/Berlin.")
        await c.telegram_post("a", c.telegram_update(chat, "/settings"))
        await until(lambda: len(telegram_texts(c.telegram, chat)) == 3, "the settings on a")
        assert "Europe/Berlin" in telegram_texts(c.telegram, chat)[2]
        assert await c.rows("SELECT text, timezone FROM reminders") == [
            ("call Anna", "Europe/Berlin")
        ]

        # The same in Slack, the other way round: asked on b, answered on a.
        await c.slack_event("b", "/remind me tomorrow at 9 to pay rent", channel="D33",
                            event_id="Ev33", user="U2")  # fmt: skip
        await until(lambda: c.slack.texts("D33"), "the zone question in Slack")
        await c.slack_event("a", "ok", channel="D33", event_id="Ev34", user="U2")
        await until(lambda: len(c.slack.texts("D33")) == 2, "the Slack reminder")
        assert "pay rent" in c.slack.texts("D33")[1]
        assert token_worker(c.slack.posts("D33")[1]["_auth"]) == "a"


async def make_due(c: Cluster, stagger: float = 0.0) -> None:
    """Every pending reminder comes due now (the ``i``-th ``stagger`` seconds later)."""
    # The columns hold naive UTC (storage.models.UTCDateTime).
    await c.rows(
        "UPDATE reminders SET due_at = t.due, occurs_at = t.due FROM ("
        "  SELECT id, (now() AT TIME ZONE 'UTC')"
        "    + (row_number() OVER (ORDER BY id) - 1) * make_interval(secs => :s) AS due"
        "  FROM reminders WHERE status = 'pending') t "
        "WHERE reminders.id = t.id RETURNING reminders.id",
        s=stagger,
    )


async def create_reminders(c: Cluster, slack: list[str], telegram: list[str]) -> None:
    """``/remind me in 1 hour to …`` for each text, alternating between the workers."""
    posts = [
        c.slack_event("ab"[i % 2], f"/remind me in 1 hour to {what}", channel=SLACK_REMINDERS,
                      event_id=f"EvR{i}")
        for i, what in enumerate(slack)
    ] + [
        c.telegram_post("ba"[i % 2], c.telegram_update(TELEGRAM_REMINDERS,
                                                       f"/remind me in 1 hour to {what}"))
        for i, what in enumerate(telegram)
    ]  # fmt: skip
    await asyncio.gather(*posts)

    def confirmed() -> bool:
        return len(c.slack.posts(SLACK_REMINDERS)) == len(slack) and len(
            telegram_texts(c.telegram, TELEGRAM_REMINDERS)
        ) == len(telegram)

    await until(confirmed, "the reminders' confirmations")
    made = await c.rows("SELECT text FROM reminders WHERE status = 'pending'")
    assert sorted(text for (text,) in made) == sorted(slack + telegram)


def reminder_posts(c: Cluster) -> Counter[str]:
    """How often each reminder's text reached a platform (accepted posts only)."""
    texts = c.slack.texts() + [str(call.params.get("text", "")) for call in c.telegram.sent()]
    return Counter(t.removeprefix("⏰ ").strip() for t in texts if t.startswith("⏰"))


async def all_sent(c: Cluster) -> bool:
    return {str(status) for (status,) in await c.rows("SELECT status FROM reminders")} == {"sent"}


async def test_reminders_made_on_either_worker_are_sent_once(tmp_path: Path) -> None:
    slack = ["stretch", "drink water", "check mail"]
    telegram = ["feed the cat", "call home", "read the news"]
    async with cluster(tmp_path) as c:
        await create_reminders(c, slack, telegram)
        await make_due(c, stagger=0.4)  # both workers' sweeps race for them
        await until(lambda: all_sent(c), "every reminder to be sent")
        assert reminder_posts(c) == Counter({what: 1 for what in slack + telegram})


async def test_a_killed_worker_loses_and_doubles_no_reminder(tmp_path: Path) -> None:
    reminders = ["stand up", "water plants", "pay rent", "book tickets"]
    async with cluster(tmp_path) as c:
        await create_reminders(c, reminders, [])
        c.slack.parking = True  # reminder posts reach Slack but are not answered yet
        await make_due(c)
        await until(lambda: len(c.slack.parked) == len(reminders), "every reminder in flight")
        victim = Counter(p.worker for p in c.slack.parked).most_common(1)[0][0]
        survivor = c.other(victim)
        c.workers[victim].kill()
        assert await c.workers[victim].process.wait() == -9  # type: ignore[union-attr]
        await until(lambda: not any(p.connected for p in c.slack.parked if p.worker == victim),
                    "the killed worker's connections to close")  # fmt: skip
        c.slack.release()  # its posts never reached Slack; the survivor's (if any) do now

        # Messages keep coming, to both workers as before; the balancer skips the dead one.
        for i in range(4):
            took, status = await c.slack_event("ab"[i % 2], "/help", channel=f"D5{i}",
                                               event_id=f"Ev5{i}")  # fmt: skip
            assert (took, status) == (survivor, 200)
            took, status = await c.telegram_post("ab"[i % 2], c.telegram_update(5001 + i, "/help"))
            assert (took, status) == (survivor, 200)
        await until(lambda: all(c.slack.posts(f"D5{i}") for i in range(4))
                    and all(telegram_texts(c.telegram, 5001 + i) for i in range(4)),
                    "the survivor's answers")  # fmt: skip

        # The killed worker's claims run out (5 s lease here) and the survivor sends them.
        await until(lambda: all_sent(c), "the survivor to take the reminders over", timeout=30)
        assert reminder_posts(c) == Counter({what: 1 for what in reminders})
        posted = c.slack.posts(SLACK_REMINDERS)
        senders = {token_worker(p["_auth"]) for p in posted if post_text(p).startswith("⏰")}
        assert senders == {survivor}


async def upgrade_process(database_url: str, cwd: Path) -> asyncio.subprocess.Process:
    """``seqbot db upgrade``: the migration every ``seqbot run`` does first, on its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQBOT_")}
    env |= {"SEQBOT_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "db", "upgrade", cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def test_two_workers_migrating_an_empty_database_at_once_both_start(
    tmp_path: Path,
) -> None:
    # Both processes are held at their first CREATE TABLE by a table of the same name this
    # test creates and rolls back: they both found no schema, and are let go together.
    schema = await new_schema()
    holder = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
    watcher = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
    processes: list[asyncio.subprocess.Process] = []
    try:
        hold = holder.transaction()
        await hold.start()
        await holder.execute(f'CREATE TABLE "{schema}".alembic_version (version_num text)')
        processes = [await upgrade_process(schema_url(schema), tmp_path) for _ in range(2)]

        async def both_waiting() -> bool:
            waiting = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 "
                "AND wait_event_type = 'Lock'",
                schema,
            )
            return waiting == 2

        await until(both_waiting, "both migrations to wait for the held table")
        await hold.rollback()
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 60)
        results = [
            (p.returncode, out.decode().strip()[-300:])
            for p, (out, _) in zip(processes, outputs, strict=True)
        ]
        assert [code for code, _ in results] == [0, 0], results
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await holder.close()
        await watcher.close()
        await drop_schema(schema)
