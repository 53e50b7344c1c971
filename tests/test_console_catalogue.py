"""The console speaks Chinese by default: every string of its code and
templates has a zh_CN translation, with the same placeholders."""

from __future__ import annotations

import re

from api.web import catalogue, i18n

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_every_console_string_is_translated_into_chinese():
    missing = catalogue.missing("zh_CN")
    assert missing == {}, "untranslated (run `make messages`):\n" + "\n".join(
        f"{text!r} at {', '.join(where)}" for text, where in sorted(missing.items())
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
