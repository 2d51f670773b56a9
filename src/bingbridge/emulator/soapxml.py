"""SOAP XML for the emulator: models to elements and back, response and fault envelopes, request parsing.

Only the standard library is used at run time. Tests check the output against Microsoft's WSDL schemas.

Namespaces are data, not code. Message wrappers (`<Op>Request`, `<Op>Response`) and their direct children are
in the service namespace the caller passes. Every nested data object takes the namespace of its type, looked up
in `TYPE_NAMESPACES` by module (one namespace per model module) or, for the few exceptions, by class. Arrays of
primitives use the DataContract Arrays namespace. This mirrors how the WSDL schemas are laid out, since with
`elementFormDefault="qualified"` an element is in the namespace of the type that declares it.
"""

from __future__ import annotations

import math
import types
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Annotated, Any, Literal, NamedTuple, TypeVar, Union, get_args, get_origin
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from bingbridge.api.models.base import Flags, LongId, WireModel

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
ADAPI_NS = "https://adapi.microsoft.com"
ARRAYS_NS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
SYSTEM_NS = "http://schemas.datacontract.org/2004/07/System"
GENERIC_NS = "http://schemas.datacontract.org/2004/07/System.Collections.Generic"
CUSTOMER_NS = "https://bingads.microsoft.com/Customer/v13"
CUSTOMER_ENTITIES_NS = "https://bingads.microsoft.com/Customer/v13/Entities"
CUSTOMER_EXCEPTION_NS = "https://bingads.microsoft.com/Customer/v13/Exception"

M = TypeVar("M", bound=WireModel)

_XSI_NIL = f"{{{XSI_NS}}}nil"
_XSI_TYPE = f"{{{XSI_NS}}}type"

# Namespace of each data-object type: a model module maps to one namespace, a "module.Class" key overrides it.
# A service with a single namespace (Campaign Management, Reporting) needs just one line for its module.
TYPE_NAMESPACES: dict[str, str] = {
    "bingbridge.api.models.customer": CUSTOMER_ENTITIES_NS,
    "bingbridge.api.models.customer.OperationError": CUSTOMER_EXCEPTION_NS,
    "bingbridge.api.models.base.KeyValuePairOfstringstring": GENERIC_NS,
    "bingbridge.api.models.base.KeyValuePairOfstringbase64Binary": GENERIC_NS,
}

# Types whose members are required (minOccurs=1) in the WSDL: an unset member is written as i:nil="true".
NIL_WHEN_UNSET: frozenset[str] = frozenset(
    {
        "bingbridge.api.models.base.KeyValuePairOfstringstring",
        "bingbridge.api.models.base.KeyValuePairOfstringbase64Binary",
    }
)

FAULT_STRING = "Invalid client data. Check the SOAP fault details for more information. TrackingId: {}."


class SoapXmlError(ValueError):
    """The XML is not a SOAP request the emulator understands."""


# ---- model introspection ----


@dataclass(frozen=True)
class _Shape:
    """What a field annotation means on the wire."""

    kind: Literal["scalar", "flags", "model", "list"]
    xs: str = "string"  # XML Schema type of a scalar; names the items of a primitive array
    model: type[WireModel] | None = None
    item: _Shape | None = None
    optional: bool = False


@dataclass(frozen=True)
class _Field:
    name: str  # Python attribute
    wire: str  # element local name
    shape: _Shape
    owner: type[WireModel]  # the class that declares the field; its namespace qualifies the element


_XS_TYPES: dict[Any, str] = {
    bool: "boolean",
    int: "int",
    float: "double",
    Decimal: "decimal",
    str: "string",
    datetime: "dateTime",
}


def _shape(annotation: Any) -> _Shape:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (Union, types.UnionType):
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"unsupported union on the wire: {annotation!r}")
        return replace(_shape(rest[0]), optional=True)
    if annotation == Flags:
        return _Shape("flags")
    if annotation == LongId:
        return _Shape("scalar", xs="long")
    if origin is Annotated:
        return _shape(args[0])
    if origin is list:
        return _Shape("list", item=_shape(args[0]))
    if isinstance(annotation, type) and issubclass(annotation, WireModel):
        return _Shape("model", model=annotation)
    return _Shape("scalar", xs=_XS_TYPES.get(annotation, "string"))


def _owner(cls: type[WireModel], name: str) -> type[WireModel]:
    for klass in cls.__mro__:
        if name in vars(klass).get("__annotations__", {}) and issubclass(klass, WireModel):
            return klass
    return cls


@cache
def _fields(cls: type[WireModel]) -> tuple[_Field, ...]:
    """The fields of a model in declaration (= WSDL sequence) order, base class members first."""
    if not cls.__pydantic_complete__:
        cls.model_rebuild()  # WireModel defers building; until then a forward reference is left unresolved
    return tuple(
        _Field(name, info.alias or name, _shape(info.rebuild_annotation()), _owner(cls, name))
        for name, info in cls.model_fields.items()
    )


def _type_key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def type_namespace(cls: type[WireModel]) -> str:
    """The XML namespace of a data-object type, from `TYPE_NAMESPACES`."""
    for key in (_type_key(cls), cls.__module__):
        if key in TYPE_NAMESPACES:
            return TYPE_NAMESPACES[key]
    raise LookupError(f"no XML namespace for {_type_key(cls)}; add its module to TYPE_NAMESPACES")


def _item_name(shape: _Shape) -> tuple[str, str]:
    """Namespace and local name of one item of an array whose items have this shape."""
    if shape.kind == "model" and shape.model is not None:
        return type_namespace(shape.model), shape.model.type_name()
    if shape.kind == "list" and shape.item is not None:
        namespace, name = _item_name(shape.item)
        return namespace, f"ArrayOf{name}"  # ArrayOfArrayOfOperationError holds <ArrayOfOperationError>
    if shape.optional and shape.xs == "long":
        return SYSTEM_NS, "long"  # ArrayOfNullableOflong (Campaign Management)
    return ARRAYS_NS, shape.xs  # ArrayOflong -> <long>, ArrayOfstring -> <string>


def _subclass_named(cls: type[M], name: str) -> type[M] | None:
    if cls.type_name() == name:
        return cls
    for sub in cls.__subclasses__():
        found = _subclass_named(sub, name)
        if found is not None:
            return found
    return None


# ---- writing ----


def _qname(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "INF" if value > 0 else "-INF"
        text = repr(value)
        # xs:decimal has no exponent form; plain digits are valid for xs:double too.
        return format(Decimal(text), "f") if "e" in text else text
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _write_members(element: ET.Element, model: WireModel, namespace: str | None, every_member: bool) -> None:
    nil_when_unset = every_member or _type_key(type(model)) in NIL_WHEN_UNSET
    for field in _fields(type(model)):
        value = getattr(model, field.name)
        if value is None and not nil_when_unset:
            continue  # every element of Microsoft's entities and messages is minOccurs=0
        child = ET.SubElement(element, _qname(namespace or type_namespace(field.owner), field.wire))
        if value is None:
            child.set(_XSI_NIL, "true")
        else:
            _write_value(child, value, field.shape, every_member)


def _write_value(element: ET.Element, value: Any, shape: _Shape, every_member: bool) -> None:
    if shape.kind == "model" and shape.model is not None:
        if type(value) is not shape.model:
            # A derived type in place of its base, e.g. OfflineConversionGoal for ConversionGoal. The prefix
            # is declared on the element itself so the QName in the attribute value always resolves.
            element.set("xmlns:t", type_namespace(type(value)))
            element.set(_XSI_TYPE, f"t:{type(value).type_name()}")
        _write_members(element, value, None, every_member)
    elif shape.kind == "list" and shape.item is not None:
        namespace, name = _item_name(shape.item)
        for item in value:
            child = ET.SubElement(element, _qname(namespace, name))
            if item is None:
                child.set(_XSI_NIL, "true")
            else:
                _write_value(child, item, shape.item, every_member)
    elif shape.kind == "flags":
        element.text = " ".join(value)  # xs:list: space-separated in SOAP (comma-separated in REST)
    else:
        element.text = _text(value)


def model_to_element(model: WireModel, name: str, namespace: str, *, every_member: bool = False) -> ET.Element:
    """Write `model` as element `{namespace}name`, its fields in declared order.

    Unset fields are left out, or with `every_member` written as i:nil="true" the way Microsoft's services answer
    (WCF data contracts send every member; WSDL-built clients such as suds read every one). A member the WSDL
    does not let be nil must then hold a value. The element's direct children are in `namespace` too, as in
    every message wrapper (Microsoft declares them with anonymous types); nested objects and arrays take the
    namespace of their own type.
    """
    element = ET.Element(_qname(namespace, name))
    _write_members(element, model, namespace, every_member)
    return element


# ---- reading ----


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _is_nil(element: ET.Element) -> bool:
    return element.get(_XSI_NIL) in ("true", "1")


def _is_unset(element: ET.Element, shape: _Shape) -> bool:
    # Microsoft's SDK writes unset members as empty elements (<Status/>), others send i:nil="true".
    if _is_nil(element):
        return True
    if len(element):
        return False
    text = element.text or ""
    return not (text if shape.kind == "scalar" and shape.xs == "string" else text.strip())


def _read_value(element: ET.Element, shape: _Shape) -> Any:
    if shape.kind == "model" and shape.model is not None:
        return element_to_model(element, shape.model)
    if shape.kind == "list" and shape.item is not None:
        return [None if _is_nil(child) else _read_value(child, shape.item) for child in element]
    text = element.text or ""
    return text if shape.xs == "string" else text.strip()


def element_to_model(element: ET.Element, model_cls: type[M]) -> M:
    """Read `element` into `model_cls`, matching children by local name; empty and nil elements stay unset.

    An `xsi:type` attribute selects the subclass of `model_cls` with that type name.
    """
    declared = element.get(_XSI_TYPE)
    if declared:
        found = _subclass_named(model_cls, declared.rsplit(":", 1)[-1])
        if found is None:
            raise SoapXmlError(f"{declared!r} is not a kind of {model_cls.type_name()}")
        model_cls = found
    by_wire = {field.wire: field for field in _fields(model_cls)}
    values: dict[str, Any] = {}
    for child in element:
        field = by_wire.get(_local(child.tag))
        if field is not None and not _is_unset(child, field.shape):
            values[field.name] = _read_value(child, field.shape)
    return model_cls.model_validate(values)


# ---- envelopes ----


def _envelope(service_namespace: str, tracking_id: str, body: str) -> bytes:
    return (
        f"<s:Envelope xmlns:s={quoteattr(SOAP_ENV_NS)}>"
        f"<s:Header><TrackingId xmlns={quoteattr(service_namespace)}>{escape(tracking_id)}</TrackingId></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def soap_response(service_namespace: str, op_name: str, response_model: WireModel, tracking_id: str) -> bytes:
    """A complete response envelope: the TrackingId header and `<{op_name}Response>` with every member."""
    body = model_to_element(response_model, f"{op_name}Response", service_namespace, every_member=True)
    return _envelope(service_namespace, tracking_id, ET.tostring(body, encoding="unicode"))


class FaultError(NamedTuple):
    """One error inside a fault. Customer Management's OperationError has no ErrorCode; it is dropped there."""

    code: int
    error_code: str | None
    message: str | None
    details: str | None = None


@dataclass(frozen=True)
class _FaultShape:
    element_ns: str | None  # namespace of the detail element; None = the service namespace
    members_ns: str | None  # namespace of the fault type's own members; None = the service namespace
    errors: str  # the array member
    item: str  # one error
    fields: tuple[str, ...]  # the error's members in WSDL order


FaultKind = Literal["AdApiFaultDetail", "ApiFault", "ApiFaultDetail"]

# Fault detail types from the WSDLs (reference section 4.1). TrackingId always comes first, in the adapi
# namespace, because every fault type extends adapi:ApplicationFault.
FAULT_SHAPES: dict[str, _FaultShape] = {
    # Generic, authentication and throttling errors, every service.
    "AdApiFaultDetail": _FaultShape(
        ADAPI_NS, ADAPI_NS, "Errors", "AdApiError", ("Code", "Detail", "ErrorCode", "Message")
    ),
    # Customer Management and Customer Billing: element in the service namespace, type in Customer/v13/Exception.
    "ApiFault": _FaultShape(
        None, CUSTOMER_EXCEPTION_NS, "OperationErrors", "OperationError", ("Code", "Details", "Message")
    ),
    # Campaign Management, Bulk, Reporting and Ad Insight; operation errors only (BatchErrors is left out).
    "ApiFaultDetail": _FaultShape(
        None, None, "OperationErrors", "OperationError", ("Code", "Details", "ErrorCode", "Message")
    ),
}


def _fault_detail(
    service_namespace: str, kind: FaultKind, errors: Iterable[FaultError], tracking_id: str
) -> ET.Element:
    shape = FAULT_SHAPES[kind]
    members_ns = shape.members_ns or service_namespace
    detail = ET.Element(_qname(shape.element_ns or service_namespace, kind))
    ET.SubElement(detail, _qname(ADAPI_NS, "TrackingId")).text = tracking_id
    array = ET.SubElement(detail, _qname(members_ns, shape.errors))
    for error in errors:
        item = ET.SubElement(array, _qname(members_ns, shape.item))
        values = {"Code": str(error.code), "Detail": error.details, "Details": error.details}
        values |= {"ErrorCode": error.error_code, "Message": error.message}
        for name in shape.fields:
            child = ET.SubElement(item, _qname(members_ns, name))
            if values[name] is None:
                child.set(_XSI_NIL, "true")  # Microsoft writes null members as nil, e.g. <Detail i:nil="true"/>
            else:
                child.text = values[name]
    return detail


def soap_fault(
    service_namespace: str,
    kind: FaultKind,
    errors: Iterable[FaultError | tuple[int, str | None, str | None]],
    tracking_id: str,
) -> bytes:
    """A fault envelope (reference 4.2): faultcode s:Server, Microsoft's faultstring, one detail element.

    `kind` names the detail type: AdApiFaultDetail (adapi; auth, throttling, any service), ApiFault (Customer
    Management, Customer Billing) or ApiFaultDetail (the other services). Errors are FaultError items or
    (code, error_code, message) tuples.
    """
    detail = _fault_detail(service_namespace, kind, [FaultError(*error) for error in errors], tracking_id)
    fault = (
        "<s:Fault><faultcode>s:Server</faultcode>"
        f'<faultstring xml:lang="en-US">{escape(FAULT_STRING.format(tracking_id))}</faultstring>'
        f"<detail>{ET.tostring(detail, encoding='unicode')}</detail></s:Fault>"
    )
    return _envelope(service_namespace, tracking_id, fault)


def parse_request(body: bytes) -> tuple[str, ET.Element, dict[str, str]]:
    """Split a SOAP 1.1 request into operation name, `<Op>Request` element and headers by local name.

    Empty or nil headers are left out, as the SDK leaves out headers it has no value for.
    """
    try:
        # Safe for untrusted input: ElementTree never fetches external entities and expat caps entity expansion.
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise SoapXmlError(f"request is not XML: {exc}") from None
    if root.tag != _qname(SOAP_ENV_NS, "Envelope"):
        raise SoapXmlError(f"expected a SOAP 1.1 Envelope, got <{root.tag}>")
    headers: dict[str, str] = {}
    header = root.find(_qname(SOAP_ENV_NS, "Header"))
    for child in header if header is not None else ():
        text = (child.text or "").strip()
        if text and not _is_nil(child):
            headers[_local(child.tag)] = text
    soap_body = root.find(_qname(SOAP_ENV_NS, "Body"))
    if soap_body is None or not len(soap_body):
        raise SoapXmlError("the SOAP Body is missing or empty")
    request = soap_body[0]
    name = _local(request.tag)
    if not name.endswith("Request") or name == "Request":
        raise SoapXmlError(f"expected an <OperationRequest> element in the Body, got <{name}>")
    return name.removesuffix("Request"), request, headers
