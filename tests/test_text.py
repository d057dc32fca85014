"""Durations in words, NFC normalisation and invisible-only text (app/domain/text.py)."""

from __future__ import annotations

import pytest

from app.domain.text import duration_text, elapsed_text, is_blank, normalised


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0 s"),
        (10, "10 s"),
        (10.4, "10 s"),
        (60, "1 min"),
        (100, "1 min 40 s"),
        (1800, "30 min"),
        (3600, "1 h"),
        (7500, "2 h 5 min"),
        (7205, "2 h"),
        (90000, "1 d 1 h"),
    ],
)
def test_durations_read_as_people_write_them(seconds: float, expected: str) -> None:
    assert duration_text(seconds) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "\u200b", "\u200b\u200d\ufeff", "\x00\x07\t\n", "\u2060 \u00a0"]
)
def test_text_of_only_invisible_characters_is_blank(text: str) -> None:
    assert is_blank(text)


@pytest.mark.parametrize("text", ["ok", "\u200bno", " x ", "é"])
def test_text_with_something_visible_is_not_blank(text: str) -> None:
    assert not is_blank(text)


def test_normalised_text_is_nfc_and_trimmed() -> None:
    decomposed = "Cafe\u0301 "
    assert normalised(decomposed) == "Café"
    assert normalised(decomposed) == normalised("Café")


@pytest.mark.parametrize(
    ("ms", "expected"), [(0, "0 ms"), (399, "399 ms"), (1000, "1 s"), (65_400, "1 min 5 s")]
)
def test_elapsed_times_read_as_people_write_them(ms: int, expected: str) -> None:
    assert elapsed_text(ms) == expected
