"""The one place where Python names meet Microsoft's wire names.

Fields are snake_case in Python and PascalCase on the wire (REST JSON property names equal the SOAP element
names). Fields are declared in WSDL sequence order so the same models can write schema-valid SOAP.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, PrivateAttr
from pydantic.alias_generators import to_pascal


def _long_in(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


# xs:long travels as a JSON string ("Id": "123"); Python code sees an int.
LongId = Annotated[int, BeforeValidator(_long_in), PlainSerializer(str, return_type=str, when_used="json")]

_FRACTION = re.compile(r"(\.\d{6})\d+")


def _datetime_in(value: Any) -> Any:
    # Microsoft writes 7 fractional digits (.6853793Z); Python keeps 6.
    if isinstance(value, str):
        return _FRACTION.sub(r"\1", value)
    return value


def _datetime_out(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    return value.isoformat()


# xs:dateTime. Aware values are written in UTC with a trailing Z.
WireDateTime = Annotated[
    datetime, BeforeValidator(_datetime_in), PlainSerializer(_datetime_out, return_type=str, when_used="json")
]


def _flags_in(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,\s]+", value) if part.strip()]
    return value


def _flags_out(value: list[str]) -> str:
    return ", ".join(value)


# Flags enums: comma-separated in REST JSON, space-separated in SOAP.
Flags = Annotated[list[str], BeforeValidator(_flags_in), PlainSerializer(_flags_out, return_type=str, when_used="json")]


class WireModel(BaseModel):
    """Base of every Microsoft data object: snake_case in Python, PascalCase on the wire."""

    # defer_build: a model's validator is built on first use, so a command pays only for the models it touches.
    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="ignore", defer_build=True)

    # The SOAP element/type name when it differs from the class name.
    wire_name: ClassVar[str | None] = None

    @classmethod
    def type_name(cls) -> str:
        return cls.wire_name or cls.__name__

    def to_wire(self) -> dict[str, Any]:
        """The JSON body Microsoft expects: wire names, ids as strings, unset fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def from_wire(cls, data: Any) -> Any:
        return cls.model_validate(data)


class WireResponse(WireModel):
    """An operation's answer; it remembers Microsoft's TrackingId of the call.

    Only answers carry it: a private attribute costs every instance at creation, and requests are built by the
    hundred thousand.
    """

    _tracking_id: str | None = PrivateAttr(default=None)

    @property
    def tracking_id(self) -> str | None:
        """Microsoft's TrackingId of the call that returned this answer."""
        return self._tracking_id


# Key/value pairs are `Key`/`Value` in REST JSON but `key`/`value` in SOAP (the SOAP writer uses field names).
_KEY = Field(default=None, serialization_alias="Key", validation_alias=AliasChoices("Key", "key"))
_VALUE = Field(default=None, serialization_alias="Value", validation_alias=AliasChoices("Value", "value"))


class KeyValuePairOfstringstring(WireModel):
    """A ForwardCompatibilityMap or TaxInformation entry."""

    model_config = ConfigDict(alias_generator=None)

    key: str | None = _KEY
    value: str | None = _VALUE


class KeyValuePairOfstringbase64Binary(WireModel):
    """A tax certificate: a name and base64 content."""

    model_config = ConfigDict(alias_generator=None)

    key: str | None = _KEY
    value: str | None = _VALUE
