"""The "/" menu in the user's language: translated summaries of the built-in tasks.

Telegram picks the command list whose ``language_code`` matches the user's app
language and falls back to the list set without one, which stays English (the
tasks' own ``summary``). The languages are those seqbot reads reminders in
(``tasks/reminders/when/languages``); ``bot/`` may not import tasks, so they are
listed here. Each translation is keyed by task name and the English summary it
translates: when a task's summary changes, or a plugin reuses a built-in name
with other words, the stale translation is not used and English shows instead.
"""

from __future__ import annotations

from types import MappingProxyType

#: task name → (English summary, {language code → translation}).
_SUMMARIES: dict[str, tuple[str, dict[str, str]]] = {
    "core": (
        "Help, your settings, and forgetting what I stored.",
        {
            "de": "Hilfe, deine Einstellungen und das Löschen gespeicherter Daten.",
            "es": "Ayuda, tus ajustes y olvidar lo que he guardado.",
            "fr": "Aide, vos réglages et l'oubli de ce que j'ai enregistré.",
            "ru": "Помощь, ваши настройки и удаление сохранённого.",
            "zh": "帮助、你的设置，以及删除我保存的内容。",
        },
    ),
    "reminders": (
        "Reminders for you or the chat, once or repeating, in your time zone.",
        {
            "de": "Erinnerungen für dich oder den Chat, einmalig oder wiederholt, in deiner Zeitzone.",
            "es": "Recordatorios para ti o el chat, únicos o periódicos, en tu zona horaria.",
            "fr": "Rappels pour vous ou le chat, uniques ou répétés, dans votre fuseau horaire.",
            "ru": "Напоминания для вас или чата, разовые или повторяющиеся, в вашем часовом поясе.",
            "zh": "为你或本聊天设置一次性或重复的提醒，按你的时区。",
        },
    ),
    "summarize": (
        "Summarize a text, a message, or the recent conversation.",
        {
            "de": "Einen Text, eine Nachricht oder den letzten Gesprächsverlauf zusammenfassen.",
            "es": "Resumir un texto, un mensaje o la conversación reciente.",
            "fr": "Résumer un texte, un message ou la conversation récente.",
            "ru": "Кратко изложить текст, сообщение или недавний разговор.",
            "zh": "总结一段文字、一条消息或最近的对话。",
        },
    ),
    "sentiment": (
        "Tell whether a text, or the recent conversation, is positive or negative.",
        {
            "de": "Erkennen, ob ein Text oder das letzte Gespräch positiv oder negativ ist.",
            "es": "Indicar si un texto o la conversación reciente es positivo o negativo.",
            "fr": "Dire si un texte ou la conversation récente est positif ou négatif.",
            "ru": "Определить, позитивен или негативен текст или недавний разговор.",
            "zh": "判断一段文字或最近的对话是积极还是消极。",
        },
    ),
    "knowledge": (
        "This chat's knowledge base, which /ask answers from.",
        {
            "de": "Die Wissensbasis dieses Chats, aus der /ask antwortet.",
            "es": "La base de conocimiento de este chat, de la que responde /ask.",
            "fr": "La base de connaissances de ce chat, où /ask puise ses réponses.",
            "ru": "База знаний этого чата, из которой отвечает /ask.",
            "zh": "本聊天的知识库，/ask 从中作答。",
        },
    ),
    "translate": (
        "Translate text between languages.",
        {
            "de": "Text zwischen Sprachen übersetzen.",
            "es": "Traducir texto entre idiomas.",
            "fr": "Traduire un texte d'une langue à l'autre.",
            "ru": "Перевести текст с одного языка на другой.",
            "zh": "在语言之间翻译文字。",
        },
    ),
    "ask": (
        "Answer questions from this chat's knowledge base and conversation.",
        {
            "de": "Fragen aus der Wissensbasis und dem Verlauf dieses Chats beantworten.",
            "es": "Responder preguntas a partir de la base de conocimiento y la conversación.",
            "fr": "Répondre aux questions à partir de la base de connaissances et du chat.",
            "ru": "Отвечать на вопросы по базе знаний и переписке этого чата.",
            "zh": "根据本聊天的知识库和对话回答问题。",
        },
    ),
}

#: The languages that get a menu of their own (English is the menu without a language).
MENU_LANGUAGES: tuple[str, ...] = ("de", "es", "fr", "ru", "zh")

SUMMARIES = MappingProxyType(_SUMMARIES)


def translated_summary(task_name: str, english: str, language: str | None) -> str:
    """``english`` in ``language`` when this is a built-in summary we translated, else as is."""
    if language is None:
        return english
    known = _SUMMARIES.get(task_name)
    if known is None or known[0] != english.strip():
        return english
    return known[1].get(language, english)
