"""confgen.profile.schema_check answers "certainly valid" without jsonschema, so render need not
import it: every answer it gives must be jsonschema's. It may say "not known" (None), never the
opposite of jsonschema."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from confgen.profile.loading import profile_schema
from confgen.profile.schema_check import _check, certainly_valid
from conftest import MINIMAL_PROFILE, REPO

SCHEMA = profile_schema()
SHIPPED = sorted((REPO / "profiles").glob("*.yaml"))


def _jsonschema_valid(instance, schema=SCHEMA) -> bool:
    return Draft202012Validator(schema).is_valid(instance)


def _as_root(subschema: dict) -> dict:
    """A subschema checked on its own, its $refs still resolving into the profile schema's $defs."""
    return {**subschema, "$defs": SCHEMA["$defs"]}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_the_shipped_profiles_are_known_valid_without_jsonschema(path):
    profile = yaml.safe_load(path.read_text())
    assert certainly_valid(profile, SCHEMA)
    assert _jsonschema_valid(profile)


def test_the_minimal_profile_is_known_valid():
    assert certainly_valid(MINIMAL_PROFILE, SCHEMA) and _jsonschema_valid(MINIMAL_PROFILE)


# Values near what the schema's keywords look at: its enums, strings that match a pattern and
# strings that nearly do, numbers at the bounds, bools beside ints, floats that are integers.
_WORDS = ["1m", "512k", "0", "12G", "1mb", "/srv/app", "/srv/app/", "srv", "api.main:app", "api.main:create_app()",
          "asgi", "wsgi", "uvicorn", "gunicorn", "aws-alb", "haproxy", "none", "off", "DENY", "SAMEORIGIN",
          "127.0.0.1:8000", "app:8000", "[::1]:8000", "unix:/run/app.sock", "10.0.0.0/8", "::1", "example.com",
          "*.example.com", ".example.com", "ex_ample.com", "1.25", "1.25.1", "2.0", "23", "23.0.1", "/", "/api/",
          "/api", "/static/", "apex", "www", "", "web", "Web", "a" * 41, "nginx:1.27", "-x", "no-referrer"]
_LEAVES = st.one_of(st.none(), st.booleans(), st.sampled_from([0, 1, 2, 5, 65535, 65536, 1024, 1025, 2 ** 40, 2 ** 41]),
                    st.integers(-3, 10 ** 9), st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from([0.0, 1.0, 2.0, 0.5, -1.0]), st.sampled_from(_WORDS), st.text(max_size=8))
_KEYS = sorted({key for schema in [SCHEMA, *SCHEMA["$defs"].values()] for key in schema.get("properties", {})}
               | {"balancer", "unknown_key"})
_VALUES = st.recursive(_LEAVES, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.sampled_from(_KEYS), children, max_size=5)), max_leaves=12)


def _subschemas(schema):
    """Every schema inside the profile schema (each property's, each $def's, each branch)."""
    if isinstance(schema, dict):
        yield schema
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for each in value.values():
                    yield from _subschemas(each)
            elif key in ("items", "not", "if", "then", "else", "additionalProperties"):
                yield from _subschemas(value)
            elif key in ("oneOf", "allOf", "anyOf"):
                for each in value:
                    yield from _subschemas(each)


SUBSCHEMAS = list(_subschemas(SCHEMA))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(SUBSCHEMAS) - 1), value=_VALUES)
def test_every_answer_on_any_subschema_is_jsonschemas(index, value):
    schema = _as_root(SUBSCHEMAS[index])
    verdict = _check(value, schema, schema)
    if verdict is not None:
        assert verdict == _jsonschema_valid(value, schema), (SUBSCHEMAS[index], value)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, prefix + (index,))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_profile_is_never_called_valid_when_jsonschema_rejects_it(data):
    base = data.draw(st.sampled_from([MINIMAL_PROFILE, *(yaml.safe_load(p.read_text()) for p in SHIPPED)]))
    profile = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(_paths(profile))[1:]))
        parent = profile
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.sampled_from(_KEYS))] = data.draw(_VALUES)
        else:
            parent[path[-1]] = data.draw(_VALUES)
    verdict = _check(profile, SCHEMA, SCHEMA)
    if verdict is not None:
        assert verdict == _jsonschema_valid(profile), profile


@pytest.mark.parametrize("value, schema", [
    (float("nan"), {"type": "number", "maximum": 5}),            # YAML's .nan: no JSON number
    ({1: "x"}, {"type": "object", "additionalProperties": False}),  # a key that is not a string
    ({"2024-01-01"}, {"not": {"type": "string"}}),                 # a YAML set
])
def test_values_without_a_plain_json_meaning_are_left_to_jsonschema(value, schema):
    assert _check(value, schema, schema) is None


def test_a_keyword_it_does_not_know_is_left_to_jsonschema():
    assert _check("abc", {"minLength": 5}, {}) is None
    assert certainly_valid("abc", {"type": "string", "minLength": 1}) is False  # not known: jsonschema decides
    assert _check(3, {"type": "string", "minLength": 5}, {}) is False  # a known keyword already fails
