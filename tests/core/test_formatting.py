import html

from bot.formatting import PLAIN, MarkupStyle, render, render_chunks, split_text

HTML = MarkupStyle(
    escape=lambda s: html.escape(s, quote=False),
    bold=lambda s: f"<b>{s}</b>",
    code=lambda s: f"<code>{s}</code>",
    code_block=lambda s: f"<pre>{s}</pre>",
    link=lambda label, url: f'<a href="{url}">{label}</a>',
)


def test_render_markup_and_escape():
    text = "**Hi** <b>you</b> & `x<y`\n- one\n- [docs](https://example.org/a)\n```\n<raw>\n```"
    assert render(text, HTML) == (
        "<b>Hi</b> &lt;b&gt;you&lt;/b&gt; &amp; <code>x&lt;y</code>\n"
        "• one\n"
        '• <a href="https://example.org/a">docs</a>\n'
        "<pre>&lt;raw&gt;</pre>"
    )


def test_unbalanced_markers_stay_literal():
    assert render("2 ** 3 and `tick", PLAIN) == "2 ** 3 and `tick"


def test_split_prefers_paragraphs_then_sentences_then_words():
    paragraphs = "First para.\n\nSecond para is here."
    assert split_text(paragraphs, 25) == ["First para.", "Second para is here."]
    sentences = "One two three. Four five six. Seven."
    assert split_text(sentences, 16) == ["One two three.", "Four five six.", "Seven."]
    words = "alpha beta gamma delta"
    assert split_text(words, 11) == ["alpha beta", "gamma delta"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_split_keeps_all_words_within_limit():
    text = " ".join(f"word{i}." if i % 7 == 0 else f"word{i}" for i in range(3000))
    chunks = split_text(text, 4096)
    assert all(len(c) <= 4096 for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_render_chunks_respects_limit_after_escaping():
    text = "<>&" * 2000
    chunks = render_chunks(text, HTML, 4096)
    assert all(len(c) <= 4096 for c in chunks)
    assert html.unescape("".join(chunks)) == text
