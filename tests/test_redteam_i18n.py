"""Attacks on the locale (api/i18n.py): a hostile Accept-Language costs a bounded number of tags,
and no user text can become a format string — every `_()` that fills in parameters has a literal
message, and a parameter's own braces are never read as fields."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from api import i18n
from api.ingestion.encoding import FormatError, codec_named

ROOT = Path(__file__).resolve().parent.parent


def test_only_the_first_tags_of_accept_language_are_read():
    junk = ",".join(f"x{n}" for n in range(i18n.MAX_TAGS))
    assert i18n.negotiate(junk + ",en") == "zh_CN"  # beyond the bound: not read
    assert i18n.negotiate(",".join(f"x{n}" for n in range(i18n.MAX_TAGS - 1)) + ",en") == "en"
    assert i18n.negotiate("a," * 8000) == i18n.negotiate("," * 16000) == "zh_CN"
    assert i18n.negotiate("en;q=nan,en;q=inf,en;q=1e999") == "en"  # odd q-values: no error


def test_every_message_with_parameters_is_a_literal():
    """`_(text, **params)` formats `text`: were it ever built from user input, a `{0.__class__}`
    in it would be read. With no params `_()` does not format at all."""
    found = []
    for path in [*ROOT.joinpath("api").rglob("*.py"), *ROOT.joinpath("schema").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
                    and node.args and node.keywords
                    and not (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str))):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"a message with parameters that is not a literal: {found}"


def test_a_msgid_from_a_variable_is_formatted_only_if_it_is_a_message_of_this_version():
    """`stored_()` (stored notification wordings, token refusals) formats only a msgid the
    catalog holds; a stored or forged format string is refused, not read."""
    with i18n.use_locale("en"):
        assert i18n.stored_("token lacks the required claim {claim}", claim="'org'") == \
            "token lacks the required claim 'org'"
        for forged in ("{claim.__class__.__mro__}", "token lacks the required claim {claim} "):
            with pytest.raises(ValueError, match="not a message of this version"):
                i18n.stored_(forged, claim="x")


def test_a_parameter_carrying_format_fields_is_shown_as_written():
    hostile = "{0.__class__.__mro__}{name}{}{{"
    with i18n.use_locale("en"):
        assert i18n._("line {line}, byte offset {offset}", line=hostile, offset=1) == \
            f"line {hostile}, byte offset 1"
        assert i18n._(hostile) == hostile  # no params: returned, not formatted
        try:
            codec_named(hostile)
        except FormatError as e:
            assert repr(hostile[:40]) in str(e)


def test_a_charset_outside_the_allow_list_is_refused_whatever_codecs_knows():
    for name in ("utf-7", "rot13", "idna", "punycode", "uu", "base64", "zlib", "bz2", "hex",
                 "zlib_codec", "UTF-16", "latin-1", "unicode_escape", "raw_unicode_escape", "utf-8 "):
        try:
            codec = codec_named(name)
        except FormatError:
            continue
        assert codec == "utf-8" and name.strip() == "utf-8"
