"""The console speaks Chinese by default: every string of its code and
templates has a zh_CN translation, with the same placeholders."""

from __future__ import annotations

import re

from api.web import catalogue, i18n

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_every_console_string_is_translated_into_chinese():
    missing = catalogue.missing("zh_CN")
    assert missing == {}, "untranslated (run `make messages`):\n" + "\n".join(
        f"{key!r} at {', '.join(where)}" for key, where in sorted(missing.items(), key=str)
    )


def test_translations_keep_their_placeholders():
    wrong = []
    for message in i18n.read_catalogue("zh_CN"):
        ids, strings = _PLACEHOLDER.findall(message.id or ""), _PLACEHOLDER.findall(message.string)
        if message.id and sorted(ids) != sorted(strings):
            wrong.append(message.id)
    assert wrong == []


def test_money_and_numbers_read_in_the_readers_locale():
    with i18n.speaking("zh_CN"):
        assert i18n.money(1_234_567) == "¥12,345.67"
        assert i18n.money(-5) == "-¥0.05"
        assert i18n.gettext("Stock") == "库存"
    with i18n.speaking("en"):
        assert i18n.money(1_234_567) == "¥12,345.67"
        assert i18n.gettext("Stock") == "Stock"
        assert i18n.number(1234567) == "1,234,567"


def test_a_word_reads_the_same_in_every_catalogue():
    """The catalogues are one per area; a word shared by two areas has one
    translation (a word that must read otherwise is given a context, NC_)."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    said: dict[tuple[str | None, str], dict[str, str]] = {}
    for po in sorted(Path(i18n.LOCALE_DIR, "zh_CN", "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as handle:
            for message in read_po(handle, locale="zh_CN"):
                if message.id:
                    said.setdefault((message.context, message.id), {})[po.name] = message.string
    differing = {key: files for key, files in said.items() if len(set(files.values())) > 1}
    assert differing == {}


def test_a_word_reads_in_the_context_of_what_it_describes():
    from api.web.render import environment

    word = environment.filters["word"]
    with i18n.speaking("zh_CN"):
        assert word("open", "count") == "盘点中"
        assert word("open") == "待处理"
        assert word("approved", "count") == "已批准"  # no context of its own: the word
    with i18n.speaking("en"):
        assert word("partly_received") == "partly received"
