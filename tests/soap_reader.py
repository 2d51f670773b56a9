"""A WSDL-built SOAP client (zeep) reading the emulator's answers the way Microsoft's SDK (suds) does.

suds builds an answer object from the elements present and raises AttributeError for a member that is absent, so
an answer must carry every member of every object (null ones as i:nil="true"). `read_answer` checks that with the
types zeep builds from the WSDL, then lets zeep deserialize the envelope. The WSDLs are the ones
`tests.soap_schema` caches; nothing is loaded from the network.
"""

from __future__ import annotations

import functools
from typing import Any

import zeep
from lxml import etree
from zeep.transports import Transport
from zeep.xsd import ComplexType

from tests.soap_schema import WSDL_FILES, validate_envelope, wsdl_dir

XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


class _LocalOnly(Transport):
    """A transport that refuses anything but local files."""

    def load(self, url: str) -> bytes:
        if "://" in url and not url.startswith("file://"):
            raise AssertionError(f"zeep tried to load {url} from the network")
        content: bytes = super().load(url)
        return content


@functools.cache
def wsdl_client(service_key: str) -> zeep.Client:
    """A zeep client built from the service's cached WSDL."""
    return zeep.Client(str(wsdl_dir() / WSDL_FILES[service_key]), transport=_LocalOnly(cache=None))


def _type_of(client: zeep.Client, node: etree._Element, declared: Any) -> Any:
    override = node.get(f"{{{XSI}}}type")
    if not override:
        return declared
    prefix, _, local = override.rpartition(":")
    return client.get_type(etree.QName(node.nsmap[prefix or None], local))


def missing_members(client: zeep.Client, node: etree._Element, xsd_type: Any, path: str) -> list[str]:
    """Members of `xsd_type` (and of the objects inside) that `node` leaves out."""
    if not isinstance(xsd_type, ComplexType) or node.get(f"{{{XSI}}}nil") == "true":
        return []
    missing = []
    children = [child for child in node if isinstance(child.tag, str)]
    for name, element in xsd_type.elements:
        found = [child for child in children if etree.QName(child).localname == name]
        if not found and element.max_occurs == 1:
            missing.append(f"{path}.{name}")
        for index, child in enumerate(found):
            where = f"{path}.{name}" if element.max_occurs == 1 else f"{path}.{name}[{index}]"
            missing += missing_members(client, child, _type_of(client, child, element.type), where)
    return missing


def read_answer(service_key: str, envelope: bytes, operation: str) -> Any:
    """Check a SOAP answer (schema-valid, no member left out) and return what zeep reads from it."""
    payload = validate_envelope(service_key, envelope)
    client = wsdl_client(service_key)
    if payload.tag == f"{{{SOAP_ENV}}}Fault":
        return None  # fault details are checked by validate_envelope; zeep would raise them
    message = client.get_element(payload.tag)
    missing = missing_members(client, payload, message.type, etree.QName(payload).localname)
    assert missing == [], f"{operation}: the answer leaves out {missing}"
    return client.service._binding.get(operation).process_reply(etree.fromstring(envelope))["body"]
