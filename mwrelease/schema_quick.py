"""A quick "surely valid?" answer for the JSON Schema subset of mwrelease/schema/bundle.schema.json.

Importing jsonschema costs about 0.2 s of CPU, as much as resolving a 100-extension bundle. A valid bundle
(the usual case) is confirmed here in a millisecond; anything else goes to jsonschema, which words the
messages. ``check`` answers True only where jsonschema finds no error, False only where it surely finds one,
and None where it cannot tell (a keyword or comparison it does not know): callers trust only True.
tests/unit/test_schema_quick.py holds it to jsonschema's verdict on the real bundles and on mutations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "default", "$defs", "$comment", "examples"})
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}


def check(schema: Any, instance: Any, root: Any = None) -> bool | None:
    root = schema if root is None else root
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict):
        return None
    result: bool | None = True
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        keyword = _KEYWORDS.get(key)
        verdict = keyword(value, instance, schema, root) if keyword is not None else None
        if verdict is False:
            return False
        if verdict is None:
            result = None
    return result


def _all(verdicts: Any) -> bool | None:
    result: bool | None = True
    for v in verdicts:
        if v is False:
            return False
        if v is None:
            result = None
    return result


def _type(value: Any, inst: Any, schema: dict[str, Any], root: Any) -> bool | None:
    names = value if isinstance(value, list) else [value]
    if any(n not in _TYPES for n in names):
        return None
    return any(_TYPES[n](inst) for n in names)


def _properties(value: Any, inst: Any, schema: dict[str, Any], root: Any) -> bool | None:
    if not isinstance(inst, dict):
        return True
    return _all(check(sub, inst[k], root) for k, sub in value.items() if k in inst)


def _additional(value: Any, inst: Any, schema: dict[str, Any], root: Any) -> bool | None:
    if not isinstance(inst, dict):
        return True
    if "patternProperties" in schema:
        return None
    known = schema.get("properties", {})
    return _all(check(value, v, root) for k, v in inst.items() if k not in known)


def _ref(value: Any, inst: Any, schema: dict[str, Any], root: Any) -> bool | None:
    if not isinstance(value, str) or not value.startswith("#/"):
        return None
    target = root
    for step in value[2:].split("/"):
        step = step.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or step not in target:
            return None
        target = target[step]
    return check(target, inst, root)


def _one_of(value: Any, inst: Any, schema: dict[str, Any], root: Any) -> bool | None:
    verdicts = [check(sub, inst, root) for sub in value]
    if any(v is None for v in verdicts):
        return None
    return verdicts.count(True) == 1


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and type(a) in (str, int, bool, type(None)) and a == b


def _unique(value: Any, inst: Any, schema: dict[str, Any], root: Any) -> bool | None:
    if not value or not isinstance(inst, list):
        return True
    if not all(isinstance(v, str) for v in inst):
        return None
    return len(set(inst)) == len(inst)


_KEYWORDS: dict[str, Callable[[Any, Any, dict[str, Any], Any], bool | None]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "$ref": _ref,
    "oneOf": _one_of,
    "uniqueItems": _unique,
    "required": lambda value, inst, s, r: not isinstance(inst, dict) or all(k in inst for k in value),
    "pattern": lambda value, inst, s, r: not isinstance(inst, str) or re.search(value, inst) is not None,
    "enum": lambda value, inst, s, r: True if any(_same(inst, e) for e in value) else None,
    "const": lambda value, inst, s, r: True if _same(inst, value) else None,
    "minItems": lambda value, inst, s, r: not isinstance(inst, list) or len(inst) >= value,
    "items": lambda value, inst, s, r: (not isinstance(inst, list) or _all(check(value, v, r) for v in inst))
    if isinstance(value, (dict, bool)) else None,
    "propertyNames": lambda value, inst, s, r: not isinstance(inst, dict) or _all(check(value, k, r) for k in inst),
}
