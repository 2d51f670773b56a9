"""Check JSON bodies against Microsoft's own REST SDK models (PyPI `msads`, top-level package `openapi_client`).

msads is imported lazily: its import takes seconds and warns (see `MSADS_IMPORT_WARNING`), so only the tests that
use it pay for it, under their own precise warning filter.
"""

from __future__ import annotations

import copy
import enum
import importlib
import re
from datetime import datetime
from typing import Any

from pydantic import ValidationError

# msads' Flag enums (e.g. AccountAdditionalField) use pydantic v1's `__get_validators__`; pydantic warns once per
# model class when msads' models are built, i.e. at import time. Test modules that import msads filter exactly this.
MSADS_IMPORT_WARNING = "ignore:`__get_validators__` is deprecated:pydantic.warnings.PydanticDeprecatedSince20"

_CAMEL_1 = re.compile(r"(.)([A-Z][a-z]+)")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")


def msads_module_name(model_name: str) -> str:
    """msads' module name for a model, with msads' own snake-casing (`GetCustomersInfoRequest` ->
    `get_customers_info_request`, `KeyValuePairOfstringAndstring` -> `key_value_pair_ofstring_andstring`)."""
    return _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", model_name)).lower()


def msads_model(model_name: str, package: str = "customer") -> Any:
    """The msads model class `openapi_client.models.<package>.<snake_name>.<model_name>`."""
    module_path = f"openapi_client.models.{package}.{msads_module_name(model_name)}"
    try:
        module = importlib.import_module(module_path)
    except ModuleNotFoundError:
        raise AssertionError(f"msads has no model {model_name!r} (looked for module {module_path})") from None
    try:
        return getattr(module, model_name)
    except AttributeError:
        raise AssertionError(f"msads module {module_path} has no class {model_name!r}") from None


def assert_accepted_by_msads(model_name: str, body: dict[str, Any], package: str = "customer") -> Any:
    """Parse `body` with msads' `<model_name>.from_dict` and assert `to_dict()` gives the same JSON back.

    Fails, naming the key path (`ClientLinks[0].StartDate`), when msads rejects a value (an int where it wants a
    StrictStr id, an unknown enum value), when a key of ours is unknown to msads (its `from_dict` silently drops
    it) or when msads drops or changes a value. Returns the parsed msads model.

    Normalisations, each because msads' `to_dict()` is not plain JSON or is lossy in a harmless way:

    - Enum members compare by `.value` (msads keeps them as `str` enums).
    - Datetimes: msads parses ours into `datetime`; the two compare equal when they are the same instant (so
      `...T00:00:00Z` equals msads' `...T00:00:00+00:00`), and an aware value never equals a naive one.
    - Flags enums (comma-separated strings such as `ReturnAdditionalFields`) compare as sets of names: the order
      is not significant on the wire. msads' multi-value parser starts from its `NONE` member, which is `auto()`
      (1, not 0), so it adds a spurious `None` to any two-or-more value set; that `None` is ignored unless we
      sent it.
    - null and an absent key are the same: null means "not given" in Microsoft's JSON, and msads mixes the two
      (an object read by its `from_dict` gets every known field set explicitly, so `to_dict()` writes null for
      all of them, while objects msads validates directly, such as the OperationErrors inside
      `AddClientLinksResponse.PartialErrors`, lose their nulls). A null item of a list is not a key: where
      msads drops it (its `to_dict` skips null objects in lists), the length differs and that fails.

    Everything else is strict: same keys, same JSON types (`1` is not `"1"`, `True` is not `1`), same values.
    """
    model = msads_model(model_name, package)
    try:
        parsed = model.from_dict(copy.deepcopy(body))
    except ValidationError as exc:
        raise AssertionError(
            f"msads {package}.{model_name} rejects the body: {_describe(model, body, exc)}\nbody: {body!r}"
        ) from None
    problems: list[str] = []
    _compare(body, parsed.to_dict(), "", problems)
    assert not problems, (
        f"msads {package}.{model_name} does not read the body back as sent:\n  "
        + "\n  ".join(problems)
        + f"\nbody: {body!r}"
    )
    return parsed


def _describe(model: Any, body: dict[str, Any], exc: ValidationError) -> str:
    """The validation errors with full key paths.

    msads' `from_dict` validates nested objects one by one, so their errors lack the outer path; validating the
    whole body at once with `model_validate` gives the same errors with the full path.
    """
    try:
        model.model_validate(body)
    except ValidationError as full:
        exc = full
    return "; ".join(f"{_loc(e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors())


def _loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "<body>"


def _flag_names(value: str) -> set[str]:
    return {name.strip() for name in value.split(",") if name.strip()}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _compare(ours: Any, theirs: Any, path: str, problems: list[str]) -> None:
    """Walk both structures together, noting each difference with its key path (`path` is "" at the top)."""
    where = path or "<body>"
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            problems.append(f"{where}: we sent {type(ours).__name__} {ours!r}, msads reads an object")
            return
        for key, value in ours.items():
            if key not in theirs and value is None:
                continue
            if key not in theirs:
                problems.append(f"{_join(path, key)}: msads does not know this key and drops it (we sent {value!r})")
            else:
                _compare(value, theirs[key], _join(path, key), problems)
        for key, value in theirs.items():
            if key not in ours and value is not None:
                problems.append(f"{_join(path, key)}: msads adds {value!r}, which we did not send")
        return
    if isinstance(theirs, list):
        if not isinstance(ours, list):
            problems.append(f"{where}: we sent {type(ours).__name__} {ours!r}, msads reads a list")
            return
        if len(ours) != len(theirs):
            problems.append(f"{where}: we sent {len(ours)} items, msads keeps {len(theirs)}: {theirs!r}")
            return
        for i, (mine, its) in enumerate(zip(ours, theirs, strict=True)):
            _compare(mine, its, f"{path}[{i}]", problems)
        return
    if isinstance(theirs, enum.Flag):
        mine = _flag_names(ours) if isinstance(ours, str) else None
        its = _flag_names(str(theirs))
        if mine is not None and "None" not in mine and len(its) > 1:
            its.discard("None")
        if mine != its:
            problems.append(f"{where}: we sent {ours!r}, msads reads the flags {sorted(its)}")
        return
    if isinstance(theirs, enum.Enum):
        theirs = theirs.value
    if isinstance(theirs, datetime):
        try:
            when = datetime.fromisoformat(ours) if isinstance(ours, str) else None
        except ValueError:
            when = None
        if when != theirs:
            problems.append(f"{where}: we sent {ours!r}, msads reads the time {theirs.isoformat()}")
        return
    if type(ours) is not type(theirs) or ours != theirs:
        problems.append(
            f"{where}: we sent {type(ours).__name__} {ours!r}, msads reads {type(theirs).__name__} {theirs!r}"
        )
