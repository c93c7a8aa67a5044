"""The task plugin API, and loading tasks from the ``seqbot.tasks`` entry point group.

A task is a small class; its methods become commands with a decorator::

    class Echo(Task):
        name = "echo"
        summary = "Repeat what you say."
        usage = "/echo <text>"

        @command("echo")
        async def echo(self, ctx: Context, args: str) -> str:
            if not args:
                raise UsageError("Tell me what to repeat.")
            return args

Built-in tasks register exactly like third-party ones, through
``[project.entry-points."seqbot.tasks"]``, so ``seqbot plugins`` shows both
and a broken plugin never stops the others from loading.
"""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from bot.messages import Reply

if TYPE_CHECKING:
    from bot.context import Services

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "seqbot.tasks"

HandlerResult = Reply | str | None
Handler = Callable[..., Awaitable[HandlerResult]]
F = TypeVar("F", bound=Handler)

_COMMANDS = "_seqbot_commands"
_ACTION = "_seqbot_action"
_DIALOG = "_seqbot_dialog_step"


def command(*names: str, hidden: bool = False) -> Callable[[F], F]:
    """Make a method answer ``/name args``; the first name is the one shown in menus."""
    if not names:
        raise TypeError("command() needs at least one name")

    def mark(func: F) -> F:
        setattr(func, _COMMANDS, (tuple(n.lower() for n in names), hidden))
        return func

    return mark


def action(name: str) -> Callable[[F], F]:
    """Make a method answer a button press whose action id is ``<task>:<name>[:payload]``.

    The handler is called as ``handler(ctx, payload)``.
    """

    def mark(func: F) -> F:
        setattr(func, _ACTION, name)
        return func

    return mark


def dialog_step(name: str) -> Callable[[F], F]:
    """Make a method answer the user's next message after ``ctx.ask(..., step=name)``.

    The handler is called as ``handler(ctx, text, data)`` with the data stored by ``ask``.
    """

    def mark(func: F) -> F:
        setattr(func, _DIALOG, name)
        return func

    return mark


class Task:
    """Base class of task plugins. Subclasses set the class attributes and decorate methods."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    #: Shown by ``/help <task>`` and after every usage error. One form per line.
    usage: ClassVar[str] = ""
    #: Whether the task needs the language model (``/help`` marks it; it says so when missing).
    needs_model: ClassVar[bool] = False

    async def setup(self, services: Services) -> None:
        """Called once at start with the bot's shared services; override to keep references."""

    def action_id(self, name: str, payload: str = "") -> str:
        """The id to put on a :class:`~bot.messages.Button` that should call ``@action(name)``."""
        return action_id(self.name, name, payload)


def action_id(task: str, name: str, payload: str = "") -> str:
    """The button id that calls ``@action(name)`` of the task called ``task``.

    For code that makes a task's buttons without the task instance at hand (the
    core's reminder dispatcher makes the reminders task's Snooze / Done buttons).
    """
    return f"{task}:{name}:{payload}" if payload else f"{task}:{name}"


@dataclass(frozen=True)
class CommandSpec:
    """One command a task answers, bound to the task instance."""

    name: str
    aliases: tuple[str, ...]
    task: Task
    handler: Handler
    hidden: bool = False


@dataclass
class LoadFailure:
    """A plugin that could not be loaded, and why (shown by ``seqbot plugins``)."""

    entry_point: str
    target: str
    error: str
    details: str


@dataclass
class PluginRegistry:
    """All loaded tasks, with lookup tables for commands, button actions and dialog steps."""

    tasks: dict[str, Task] = field(default_factory=dict)
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    actions: dict[tuple[str, str], Handler] = field(default_factory=dict)
    dialogs: dict[tuple[str, str], Handler] = field(default_factory=dict)
    failures: list[LoadFailure] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def add(self, task: Task, source: str = "") -> None:
        """Register a task instance; raises ``ValueError`` on a name or command clash."""
        name = getattr(task, "name", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{type(task).__name__} has no task name")
        if name in self.tasks:
            raise ValueError(f"task name {name!r} is already taken by {self.sources[name]}")
        found = _decorated(task)
        clashes = [a for names, _, _ in found.commands for a in names if a in self.commands]
        if clashes:
            owner = self.commands[clashes[0]].task.name
            raise ValueError(f"command /{clashes[0]} is already registered by task {owner!r}")
        self.tasks[name] = task
        self.sources[name] = source or type(task).__module__
        for names, hidden, handler in found.commands:
            spec = CommandSpec(names[0], names[1:], task, handler, hidden)
            for alias in names:
                self.commands[alias] = spec
        for action_name, handler in found.actions:
            self.actions[(name, action_name)] = handler
        for step, handler in found.dialogs:
            self.dialogs[(name, step)] = handler

    def visible_commands(self) -> list[CommandSpec]:
        """Each command once (not per alias), in registration order, without hidden ones."""
        seen: dict[str, CommandSpec] = {}
        for spec in self.commands.values():
            if not spec.hidden:
                seen.setdefault(spec.name, spec)
        return list(seen.values())

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every task advertised in ``group``; failures are recorded, never raised."""
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            self._load(ep)

    def _load(self, ep: EntryPoint) -> None:
        try:
            obj = ep.load()
            instances = _instantiate(obj)
            for task in instances:
                self.add(task, source=f"{ep.name} = {ep.value}")
        except Exception as exc:
            log.warning("task plugin %s (%s) failed to load: %s", ep.name, ep.value, exc)
            self.failures.append(
                LoadFailure(
                    entry_point=ep.name,
                    target=ep.value,
                    error=f"{type(exc).__name__}: {exc}",
                    details=traceback.format_exc(),
                )
            )

    async def setup(self, services: Services) -> None:
        for task in list(self.tasks.values()):
            await task.setup(services)


def _instantiate(obj: Any) -> list[Task]:
    """An entry point may name a Task subclass, an instance, or a list of either."""
    items: Iterable[Any] = obj if isinstance(obj, list | tuple) else [obj]
    tasks = []
    for item in items:
        if inspect.isclass(item) and issubclass(item, Task):
            tasks.append(item())
        elif isinstance(item, Task):
            tasks.append(item)
        else:
            raise TypeError(f"{item!r} is not a seqbot Task subclass")
    return tasks


@dataclass
class _Found:
    commands: list[tuple[tuple[str, ...], bool, Handler]]
    actions: list[tuple[str, Handler]]
    dialogs: list[tuple[str, Handler]]


def _decorated(task: Task) -> _Found:
    found = _Found([], [], [])
    for attr in dir(type(task)):
        func = getattr(type(task), attr, None)
        if not callable(func):
            continue
        bound = getattr(task, attr)
        if hasattr(func, _COMMANDS):
            names, hidden = getattr(func, _COMMANDS)
            found.commands.append((names, hidden, bound))
        if hasattr(func, _ACTION):
            found.actions.append((getattr(func, _ACTION), bound))
        if hasattr(func, _DIALOG):
            found.dialogs.append((getattr(func, _DIALOG), bound))
    # dir() sorts names; keep the order the methods were written in for menus
    order = {name: i for i, name in enumerate(vars(type(task)))}
    found.commands.sort(key=lambda c: order.get(c[2].__name__, len(order)))
    return found
