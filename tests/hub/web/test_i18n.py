"""Both languages say everything: same keys, same parameters, and a missing key is visible."""

from __future__ import annotations

import re
import string

import pytest

from hub.web import i18n


def _params(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogs_have_the_same_keys() -> None:
    assert set(i18n.ZH) == set(i18n.EN)
    assert set(i18n.CATALOGS) == set(i18n.LOCALES)


@pytest.mark.parametrize("key", sorted(i18n.ZH))
def test_both_languages_take_the_same_parameters(key: str) -> None:
    assert _params(i18n.ZH[key]) == _params(i18n.EN[key]), key
    assert i18n.ZH[key].strip() and i18n.EN[key].strip()


def test_chinese_catalog_is_chinese() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    # Words that are the same in both (a unit, a symbol) are allowed; sentences are not left in English.
    english = [k for k, v in i18n.ZH.items() if not han.search(v) and len(v) > 12]
    assert english == []


def test_translator_formats_and_marks_missing_keys() -> None:
    t = i18n.translator("zh-CN")
    assert t("gate.rounds", done=2, required=5) == "已完成 2 / 5 轮"
    assert i18n.translator("en")("gate.rounds", done=2, required=5) == "2 of 5 rounds done"
    assert t("no.such.key") == "⟦no.such.key⟧"


@pytest.mark.parametrize(("query", "cookie", "user", "expected"), [
    (None, None, None, "zh-CN"),
    (None, None, "en", "en"),
    (None, "en", "zh-CN", "en"),
    ("zh", "en", "en", "zh-CN"),
    ("fr", None, "en", "en"),
    ("en-US", None, None, "en"),
    ("zh_Hans", None, None, "zh-CN"),
])
def test_language_choice(query: str | None, cookie: str | None, user: str | None, expected: str) -> None:
    assert i18n.choose(query, cookie, user) == expected
