"""crossplane's lexer fed runs of characters (confgen.nginx.parse._runs) gives exactly the tokens,
lines, quoting and offsets it gives fed one character at a time, as crossplane itself feeds it:
on every config the tests ship, on seeded mutations of them, on generated text made of the
characters the lexer treats specially, and through the Lua-block lexer."""

from __future__ import annotations

import random
from pathlib import Path

import crossplane.lexer
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confgen.nginx import parse
from fuzz_support import mutate

ROOT = Path(__file__).parent
CONFIGS = sorted(p for folder in ("corpus", "fixtures") for p in (ROOT / folder).rglob("*")
                 if p.is_file() and p.suffix not in (".py", ".txt", ".md", ".json", ".yaml", ".yml", ".toml", ".cmd"))


def _one_character_at_a_time(text: str, start: int):
    return iter((text[start:], parse._SENTINEL))


def _lexed(text: str, feed) -> tuple[list, str | None]:
    """Every (token, line, quoted, begin, end) up to the end, and how lexing ended."""
    original = parse._runs
    parse._runs = feed
    tokens: list = []
    try:
        for item in parse.lex(text):
            tokens.append(item)
    except Exception as error:  # an unclosed quote or Lua block: both feeds must fail alike
        return tokens, f"{type(error).__name__}: {error}"
    finally:
        parse._runs = original
    return tokens, None


def _same_as_one_character_at_a_time(text: str) -> None:
    assert _lexed(text, parse._runs) == _lexed(text, _one_character_at_a_time)


def test_the_runs_are_the_text_cut_where_crossplane_looks():
    text = 'a\\ b "x\\"" # c  \n\n  ${v}; \\'
    assert [run for chunk in parse._runs(text, 0) for run in chunk][:24] == [
        "a", "\\ ", "b", " ", '"', "x", '\\"', '"', " ", "#", " ", "c", " ", " ", "\n", "\n", "  ", "$", "{", "v",
        "}", ";", " ", "\\"]
    # Chunks end at a newline, so a long text is never copied whole nor cut inside an escape pair.
    long = ("server_name a\\\nb;\n" * 20_000)
    chunks = list(parse._runs(long, 0))
    assert len(chunks) > 2 and "".join(run for chunk in chunks[:-1] for run in chunk) == long


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_config_lexes_the_same(path):
    _same_as_one_character_at_a_time(path.read_text("utf-8", errors="replace"))


def test_mutated_configs_lex_the_same():
    rng = random.Random(24)
    texts = [path.read_text("utf-8", errors="replace") for path in CONFIGS[::3]]
    for text in texts:
        for _ in range(4):
            _same_as_one_character_at_a_time(mutate(text, rng)[0])


# The characters crossplane's lexer decides on, words, and blanks nginx and Python see differently.
PIECES = ["{", "}", ";", '"', "'", "#", "\\", "$", "${", "}", "\n", "\r\n", " ", "\t", "  ", "\x0b", "\x1c", "\x85",
          "\u2028", "\u00a0", "\\\n", "\\ ", "${a}", "#x\n", "a", "server", "location", "proxy_pass", "http://x", "-", "[", "]", "=", "--",
          "content_by_lua_block", "set_by_lua_block", "[[", "]]", "[==[", "]==]", "x y", "\x00", "é", "\U0001f600"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=60))
def test_generated_text_lexes_the_same(pieces):
    _same_as_one_character_at_a_time("".join(pieces))


@pytest.mark.parametrize("text", [
    "content_by_lua_block { local s = '}' -- }\n ngx.say([[}]]) }\nlocation / {}\n",
    "set_by_lua_block $x { return \"{\" }\nserver {}\n",
    "access_by_lua_block { if a then b() end }",
    "access_by_lua_block{--[==[ } ]==] x = \"a\\\"}\" }; y;",
    "content_by_lua_block { unclosed",
])
def test_lua_blocks_lex_the_same(text):
    tokens, ended = _lexed(text, parse._runs)
    assert (tokens, ended) == _lexed(text, _one_character_at_a_time)
    assert tokens  # the Lua lexer was reached


def test_crossplane_still_lexes_as_shipped_around_ours():
    """Our Lua lexers are in crossplane's table only while confgen lexes."""
    before = dict(crossplane.lexer.EXTERNAL_LEXERS)
    list(parse.lex("content_by_lua_block { x }\n"))
    assert crossplane.lexer.EXTERNAL_LEXERS == before


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="{};\"'#\\$ \t\n\r\x0bab[]=-", max_size=80))
def test_generated_characters_lex_the_same(text):
    _same_as_one_character_at_a_time(text)
