"""``~/.icav2/config.yaml`` values as YAML reads them: a quoted value followed by a comment is
the text inside the quotes (the quotes are not part of the key sent to ICA), and a file saved
with a UTF-8 byte order mark (Windows editors) still names its first key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ica_tapis_async.cli._icav2 import ConfigFileError, read_icav2_config


def _read(tmp_path: Path, text: str, encoding: str = "utf-8") -> dict[str, str]:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding=encoding)
    return read_icav2_config(path)


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ('x-api-key: "k-123" # mine', "k-123"),
        ("x-api-key: 'k-123'   # from the portal", "k-123"),
        ('x-api-key: "k #1"', "k #1"),
        ('x-api-key: "k-123"\t# tab before the comment', "k-123"),
        ("x-api-key: k-123 # mine", "k-123"),
        ("x-api-key: k#123", "k#123"),
        ('x-api-key: "k-123"', "k-123"),
    ],
)
def test_quoted_values_lose_their_quotes_also_before_a_comment(
    tmp_path: Path, line: str, value: str
) -> None:
    assert _read(tmp_path, line + "\n") == {"x-api-key": value}


def test_a_quote_left_open_or_text_after_the_closing_quote_is_refused(tmp_path: Path) -> None:
    for line in ('x-api-key: "k-123', 'x-api-key: "k-1" 23'):
        with pytest.raises(ConfigFileError, match="line 1"):
            _read(tmp_path, line + "\n")


def test_a_byte_order_mark_is_not_part_of_the_first_key(tmp_path: Path) -> None:
    config = _read(tmp_path, "server-url: ica.illumina.com\nx-api-key: k\n", encoding="utf-8-sig")
    assert config == {"server-url": "ica.illumina.com", "x-api-key": "k"}
