"""Microsoft's WSDL schemas as lxml validators, so tests can prove that SOAP we write is schema-valid.

The WSDLs ship in the `bingads` sdist, which is never installed (it clashes with `msads`): it is downloaded
once with pip into `.cache/bingads/` (git-ignored) and only the WSDL files are extracted. Each WSDL embeds
several `<xs:schema>` elements that import each other by namespace without a schemaLocation; they are split
into files with schemaLocations added, and one driver schema imports them all. The SOAP envelope schema is
not used: `validate_envelope` checks the envelope structure by hand and validates what it carries.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from lxml import etree

BINGADS_VERSION = "13.0.30.1"
CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "bingads"
_PROXIES = f"bingads-{BINGADS_VERSION}/bingads/v13/proxies/production"

# bingbridge.api.services.SERVICES key -> WSDL file in the sdist.
WSDL_FILES = {
    "customer-management": "customermanagement_service.xml",
    "campaign-management": "campaignmanagement_service.xml",
    "reporting": "reporting_service.xml",
    "bulk": "bulk_service.xml",
    "ad-insight": "adinsight_service.xml",
    "customer-billing": "customerbilling_service.xml",
}

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_FAULT_CODES = {"Server", "Client", "VersionMismatch", "MustUnderstand"}


def _download_sdist() -> Path:
    sdist = CACHE_DIR / f"bingads-{BINGADS_VERSION}.tar.gz"
    if sdist.exists():
        return sdist
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        command = [sys.executable, "-m", "pip", "download", f"bingads=={BINGADS_VERSION}"]
        command += ["--no-deps", "--no-binary", ":all:", "--disable-pip-version-check", "-d", tmp]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        downloaded = Path(tmp) / sdist.name
        if result.returncode or not downloaded.exists():
            raise RuntimeError(f"could not download the bingads sdist:\n{result.stdout}\n{result.stderr}")
        os.replace(downloaded, sdist)
    return sdist


def wsdl_dir() -> Path:
    """The directory holding Microsoft's v13 production WSDLs, downloading them on first use."""
    target = CACHE_DIR / _PROXIES
    if all((target / name).exists() for name in WSDL_FILES.values()):
        return target
    sdist = _download_sdist()
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp, tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name in {f"{_PROXIES}/{n}" for n in WSDL_FILES.values()}]
        archive.extractall(tmp, members=members, filter="data")
        target.mkdir(parents=True, exist_ok=True)
        for name in WSDL_FILES.values():
            os.replace(Path(tmp) / _PROXIES / name, target / name)
    return target


def _standalone(schema: etree._Element) -> etree._Element:
    # The schema's QName attribute values (type="tns:Foo") use prefixes declared on wsdl:definitions, so the
    # copy declares every namespace in scope.
    copy_ = etree.Element(schema.tag, attrib=dict(schema.attrib), nsmap=schema.nsmap)
    for child in schema:
        copy_.append(copy.deepcopy(child))
    return copy_


@functools.cache
def service_schema(service_key: str) -> etree.XMLSchema:
    """An XMLSchema holding every schema embedded in the service's WSDL."""
    wsdl = etree.parse(str(wsdl_dir() / WSDL_FILES[service_key]))
    schemas = wsdl.getroot().findall(f"{{{WSDL}}}types/{{{XS}}}schema")
    files: dict[str, str] = {}
    for index, schema in enumerate(schemas):
        namespace = schema.get("targetNamespace")
        assert namespace and namespace not in files, f"{service_key}: unexpected schema {namespace!r}"
        files[namespace] = f"schema{index}.xsd"
    tmp = tempfile.mkdtemp(prefix=f"xsd-{service_key}-")
    try:
        for schema in schemas:
            standalone = _standalone(schema)
            for imported in standalone.iter(f"{{{XS}}}import"):
                imported.set("schemaLocation", files[imported.get("namespace", "")])
            etree.ElementTree(standalone).write(os.path.join(tmp, files[schema.get("targetNamespace", "")]))
        driver = etree.Element(f"{{{XS}}}schema", nsmap={"xs": XS})
        for namespace, name in files.items():
            etree.SubElement(driver, f"{{{XS}}}import", namespace=namespace, schemaLocation=name)
        driver_path = os.path.join(tmp, "driver.xsd")
        etree.ElementTree(driver).write(driver_path)
        return etree.XMLSchema(etree.parse(driver_path))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _element(xml: bytes | etree._Element) -> etree._Element:
    return etree.fromstring(xml) if isinstance(xml, bytes) else xml


def validate_element(service_key: str, element_xml: bytes | etree._Element) -> None:
    """Assert that a global element of the service's schemas (e.g. a GetUserRequest) is schema-valid."""
    element = _element(element_xml)
    schema = service_schema(service_key)
    if not schema.validate(element):
        problems = "\n".join(f"  line {e.line}: {e.message}" for e in schema.error_log)
        raise AssertionError(f"{service_key}: <{etree.QName(element).localname}> is not valid:\n{problems}")


def _children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]  # skip comments and PIs


def validate_envelope(service_key: str, envelope_bytes: bytes) -> etree._Element:
    """Assert a SOAP 1.1 envelope's structure and validate its headers and payload (or fault details).

    Returns the Body's child (the payload or the s:Fault) for further assertions.
    """
    root = etree.fromstring(envelope_bytes)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope", f"root is <{root.tag}>, not a SOAP 1.1 Envelope"
    parts = _children(root)
    tags = [etree.QName(part).localname for part in parts if etree.QName(part).namespace == SOAP_ENV]
    assert len(tags) == len(parts) and tags in (["Header", "Body"], ["Body"]), f"Envelope holds {tags}"
    if tags[0] == "Header":
        for header in _children(parts[0]):
            validate_element(service_key, header)
    payloads = _children(parts[-1])
    assert len(payloads) == 1, f"the Body holds {len(payloads)} elements, expected one"
    payload = payloads[0]
    if payload.tag != f"{{{SOAP_ENV}}}Fault":
        validate_element(service_key, payload)
        return payload
    fields = {child.tag: child for child in _children(payload)}
    assert set(fields) <= {"faultcode", "faultstring", "faultactor", "detail"}, f"Fault holds {list(fields)}"
    code = fields["faultcode"].text or ""
    prefix, _, local = code.rpartition(":")
    assert payload.nsmap.get(prefix or None) == SOAP_ENV and local in SOAP_FAULT_CODES, f"faultcode {code!r}"
    assert fields["faultstring"].text, "empty faultstring"
    details = _children(fields["detail"]) if "detail" in fields else []
    assert details, "the Fault has no detail element"
    for detail in details:
        validate_element(service_key, detail)
    return payload
