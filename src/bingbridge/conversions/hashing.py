"""Normalising and hashing e-mail addresses and phone numbers for enhanced conversions.

Microsoft asks for SHA-256 hashes of the e-mail address and of the phone number "according to the E.164 standard"
but publishes no normalisation rules, so bingbridge follows the industry convention the other ad platforms
document, which is what Microsoft's matching most plausibly expects:

- e-mail: trim surrounding white space, lower-case the whole address; nothing else (no removal of dots or
  "+tags": that is provider-specific and would change addresses that are distinct);
- phone: parse with the `phonenumbers` library (Google's libphonenumber data) using the number's own `+country`
  prefix or else the configured default country, then format as E.164 (`+` country code and digits only);
- hash: SHA-256 of the UTF-8 normalised text, as 64 lower-case hex characters.

A value that already is 64 hex characters is taken as a hash and passed through (lower-cased). Plain values are
never kept, logged or sent: only the hash leaves this module.
"""

from __future__ import annotations

import hashlib
import re

SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class NotHashable(ValueError):
    """The value cannot be normalised (e.g. a phone number that does not parse)."""


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_hashed(value: str) -> bool:
    return bool(SHA256_HEX.match(value.strip()))


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if "@" not in value or value.startswith("@") or value.endswith("@") or " " in value:
        raise NotHashable("is not an e-mail address")
    return value


def normalise_phone(phone: str, default_country: str) -> str:
    """E.164 form of `phone`, reading national numbers as numbers of `default_country` (ISO 3166 alpha-2)."""
    import phonenumbers  # its metadata is large; load it only when a phone number is hashed

    try:
        parsed = phonenumbers.parse(phone.strip(), default_country.upper())
    except phonenumbers.NumberParseException:
        raise NotHashable(f"cannot be read as a phone number (default country {default_country})") from None
    if not phonenumbers.is_possible_number(parsed):
        raise NotHashable(f"is not a possible phone number for country code +{parsed.country_code}")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def hash_email(value: str) -> str:
    """The hash Microsoft expects; a value that is already a hash passes through."""
    return value.strip().lower() if is_hashed(value) else sha256_hex(normalise_email(value))


def hash_phone(value: str, default_country: str) -> str:
    return value.strip().lower() if is_hashed(value) else sha256_hex(normalise_phone(value, default_country))
