"""Whether a profile certainly satisfies the profile schema, decided without jsonschema.

Importing jsonschema takes longer (~65 ms: its metaschemas, ``referencing``, attrs classes) than
the rest of ``confgen render``, and a profile is valid nearly every time it is rendered. This
reads the same schema (``schemas/profile.schema.json`` stays the one source of truth) with the
JSON Schema 2020-12 meaning of the keywords it uses, and answers True only when every check
certainly passes. Anything else -- a violation, a keyword or a value it does not know -- goes to
jsonschema, which decides and words every error: this never rejects a profile on its own.

Each check answers True (passes), False (fails) or None (not known here); a schema passes when all
its keywords pass, fails as soon as one fails, and is unknown otherwise.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

# Keywords that only describe; they never make an instance fail.
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples",
                          "then", "else"})  # then/else are read by "if"
_DEFS_REF = "#/$defs/"


def certainly_valid(instance: Any, schema: dict) -> bool:
    """True when ``instance`` satisfies ``schema``; False when it does not or may not."""
    return _check(instance, schema, schema) is True


def _check(instance: Any, schema: Any, root: dict) -> bool | None:
    if schema is True or schema is False:
        return schema
    if not isinstance(schema, dict) or not _plain(instance):
        return None
    verdict: bool | None = True
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        check = _KEYWORDS.get(keyword)
        result = None if check is None else check(instance, value, schema, root)
        if result is False:
            return False
        if result is None:
            verdict = None
    return verdict


def _plain(instance: Any) -> bool:
    """A value whose JSON Schema meaning is plain: JSON's types, finite numbers, string keys.
    (YAML can also give dates, sets, bytes and NaN; those are left to jsonschema.)"""
    if isinstance(instance, float):
        return math.isfinite(instance)
    if isinstance(instance, dict):
        return all(isinstance(key, str) for key in instance)
    return instance is None or isinstance(instance, (str, int, list))


def _all(verdicts) -> bool | None:
    verdict: bool | None = True
    for each in verdicts:
        if each is False:
            return False
        if each is None:
            verdict = None
    return verdict


def _is_number(instance: Any) -> bool:
    return isinstance(instance, (int, float)) and not isinstance(instance, bool)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "number": _is_number,
    # 2020-12: 3.0 is an integer; True is not.
    "integer": lambda value: _is_number(value) and (isinstance(value, int) or value.is_integer()),
}


def _type(instance, types, schema, root):
    names = [types] if isinstance(types, str) else types
    if not all(name in _TYPES for name in names):
        return None
    return any(_TYPES[name](instance) for name in names)


def _equal(one: Any, two: Any) -> bool | None:
    """JSON equality (True is not 1) for scalars; two containers are not compared here."""
    containers = isinstance(one, (list, dict)) + isinstance(two, (list, dict))
    if containers:
        return None if containers == 2 else False
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    return one == two  # numbers and None


def _enum(instance, values, schema, root):
    verdicts = [_equal(instance, value) for value in values]
    if True in verdicts:
        return True
    return None if None in verdicts else False


def _const(instance, value, schema, root):
    return _equal(instance, value)


def _pattern(instance, pattern, schema, root):
    return not isinstance(instance, str) or re.search(pattern, instance) is not None


def _bound(compare: Callable[[Any, Any], bool]):
    def check(instance, limit, schema, root):
        return not _is_number(instance) or compare(instance, limit)
    return check


def _min_items(instance, count, schema, root):
    return not isinstance(instance, list) or len(instance) >= count


def _unique_items(instance, unique, schema, root):
    if not unique or not isinstance(instance, list):
        return True
    if not all(isinstance(item, str) for item in instance):
        return None
    return len(set(instance)) == len(instance)


def _items(instance, items, schema, root):
    if not isinstance(instance, list):
        return True
    if "prefixItems" in schema:
        return None
    return _all(_check(item, items, root) for item in instance)


def _properties(instance, properties, schema, root):
    if not isinstance(instance, dict):
        return True
    return _all(_check(instance[key], subschema, root) for key, subschema in properties.items() if key in instance)


def _additional_properties(instance, additional, schema, root):
    if not isinstance(instance, dict):
        return True
    if "patternProperties" in schema:
        return None
    extras = [key for key in instance if key not in schema.get("properties", {})]
    return _all(_check(instance[key], additional, root) for key in extras)


def _required(instance, names, schema, root):
    return not isinstance(instance, dict) or all(name in instance for name in names)


def _all_of(instance, subschemas, schema, root):
    return _all(_check(instance, subschema, root) for subschema in subschemas)


def _one_of(instance, subschemas, schema, root):
    verdicts = [_check(instance, subschema, root) for subschema in subschemas]
    passing = verdicts.count(True)
    if passing > 1:
        return False
    if None in verdicts:
        return None
    return passing == 1


def _not(instance, subschema, schema, root):
    verdict = _check(instance, subschema, root)
    return None if verdict is None else not verdict


def _if(instance, condition, schema, root):
    verdict = _check(instance, condition, root)
    if verdict is None:
        return None
    branch = schema.get("then" if verdict else "else", True)
    return _check(instance, branch, root)


def _ref(instance, ref, schema, root):
    if not isinstance(ref, str) or not ref.startswith(_DEFS_REF):
        return None
    target = root.get("$defs", {}).get(ref[len(_DEFS_REF):])
    return None if target is None else _check(instance, target, root)


_KEYWORDS: dict[str, Callable[[Any, Any, dict, dict], bool | None]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "minimum": _bound(lambda value, limit: value >= limit),
    "maximum": _bound(lambda value, limit: value <= limit),
    "exclusiveMinimum": _bound(lambda value, limit: value > limit),
    "exclusiveMaximum": _bound(lambda value, limit: value < limit),
    "minItems": _min_items,
    "uniqueItems": _unique_items,
    "items": _items,
    "properties": _properties,
    "additionalProperties": _additional_properties,
    "required": _required,
    "allOf": _all_of,
    "oneOf": _one_of,
    "not": _not,
    "if": _if,
    "$ref": _ref,
}
