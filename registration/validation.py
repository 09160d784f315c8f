"""The rules for a delegate's data, shared by the registration form, walk-ins and imports.

`clean_record` takes raw strings (a form post or a CSV row, keyed by the stable field names)
and returns cleaned values plus plain-language errors per field. Nothing here touches the
database: uniqueness and capacity are decided in services.registration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

from .countries import COUNTRY_CODES
from .fields import CATEGORY_FIELDS, CATEGORY_KEYS, HONORIFICS, NAME_MAX, THEMES
from .text import InvalidText, clean_text

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "on", "x", "是"})

# Length limits per common field (names share NAME_MAX).
MAX_LENGTHS = {
    "given_name": NAME_MAX,
    "family_name": NAME_MAX,
    "native_name": NAME_MAX,
    "badge_name": NAME_MAX,
    "organisation": 200,
    "position": 200,
    "dietary_needs": 500,
    "accessibility_needs": 500,
}
MULTILINE = frozenset({"dietary_needs", "accessibility_needs", "focus"})


def _raw(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)


def clean_phone(value: str, country: str = "") -> str:
    """Check a mobile number and return it in E.164 (+861380013800).

    A number written without +country code is read in the delegate's country when known.
    Only impossible numbers are refused (unknown country code, wrong number of digits): a
    possible number outside the ranges phonenumbers' metadata knows is kept, since new mobile
    ranges reach the metadata months late; `phone_is_verified` tells the desk which is which.
    """
    if not value.strip():
        raise ValueError(_l("Enter your mobile phone number."))
    region = country if (country and not value.strip().startswith("+")) else None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError(
            _l("Enter the number in international format, starting with + and the country "
               "code, for example +86 138 0013 8000.")
        ) from None
    # A number possible only locally (no area code) cannot be called from abroad: refused.
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != phonenumbers.ValidationResult.IS_POSSIBLE or \
            phonenumbers.region_code_for_country_code(number.country_code or 0) == "ZZ":
        raise ValueError(_l("This is not a valid phone number. Check the country code and "
                            "the number of digits."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_is_verified(e164: str) -> bool:
    """True when a stored number is in a range the metadata knows to be assigned; False for
    a possible but unverified one (kept, shown to the desk with a note) or an unreadable one."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False


def clean_email(value: str) -> str:
    if not value.strip():
        raise ValueError(_l("Enter your email address."))
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError(_l("Enter a valid email address, like name@example.org.")) from None


# Providers known to ignore dots in the local part (and to alias the two domains).
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def email_key(email: str) -> str:
    """The form under which two addresses count as the same registration (one mailbox):
    case folded; a "+tag" after the local part dropped (name+x@org.example is
    name@org.example); for Gmail also the dots (j.doe@gmail.com is jdoe@gmail.com).

    Rows stored before this rule hold the plain case-folded address (`legacy_email_key`);
    lookups by address try both (`email_keys`)."""
    folded = email.strip().casefold()
    local, at, domain = folded.rpartition("@")
    if not at or not local:
        return folded
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "") or local
        domain = DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


def legacy_email_key(email: str) -> str:
    """The key rows registered before the plus/dot rule were stored with."""
    return email.strip().casefold()


def email_keys(email: str) -> tuple[str, ...]:
    """Every stored key that means this address: the current rule's, then the old one."""
    return tuple(dict.fromkeys((email_key(email), legacy_email_key(email))))


def clean_url(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or "." not in parts.netloc or " " in value:
        raise ValueError(_l("Enter a web address such as https://example.org."))
    return value


def clean_details(category: str, data: Mapping[str, Any], *, require: bool) -> tuple[
        dict[str, Any], dict[str, object]]:
    """Clean the category-specific fields of `category`; other categories' fields are ignored."""
    details: dict[str, Any] = {}
    errors: dict[str, object] = {}
    for spec in CATEGORY_FIELDS.get(category, ()):
        try:
            if spec.kind == "bool":
                details[spec.name] = _raw(data, spec.name).strip().lower() in TRUE_WORDS
                continue
            if spec.kind == "themes":
                value = data.get(spec.name) or []
                if isinstance(value, str):  # CSV cell: "cybersecurity; counter_terrorism"
                    value = [v.strip() for v in value.replace(",", ";").split(";")]
                themes = [v for v in value if v]
                unknown = [v for v in themes if v not in THEMES]
                if unknown:
                    raise ValueError(_l("Choose areas from the list."))
                if require and not themes:
                    raise ValueError(_l("Choose at least one area of expertise."))
                details[spec.name] = themes
                continue
            text = clean_text(_raw(data, spec.name), multiline=spec.name in MULTILINE)
            if len(text) > spec.max_length:
                raise ValueError(_l("Use at most %(n)d characters.", n=spec.max_length))
            if spec.kind == "url":
                text = clean_url(text)
            elif spec.kind == "country" and text:
                text = text.upper()
                if text not in COUNTRY_CODES:
                    raise ValueError(_l("Choose a country or region from the list."))
            if require and spec.required and not text:
                raise ValueError(_l("This field is required."))
            details[spec.name] = text
        except InvalidText:
            errors[spec.name] = _l("This contains a control character that cannot be stored. "
                                   "Retype it without copying from another program.")
        except ValueError as exc:
            errors[spec.name] = exc.args[0]
    if category == "expert" and "other" in details.get("expertise", []) and require \
            and not details.get("expertise_other"):
        errors["expertise_other"] = _l("Tell us your other area of expertise.")
    return details, errors


def clean_record(data: Mapping[str, Any], *, require_category_fields: bool = True,
                 require_consent: bool = True, require_identity: bool = False
                 ) -> tuple[dict[str, Any], dict[str, object]]:
    """Validate one delegate record. Returns (clean values, {field: message}).

    `clean["identity"]`: where the current edition asks the category for identity data
    (identity_rules.py), the identity values given, cleaned (all of them required with
    `require_identity`: the public form); None where it is not asked."""
    clean: dict[str, Any] = {}
    errors: dict[str, object] = {}

    category = _raw(data, "category").strip().lower()
    if category not in CATEGORY_KEYS:
        errors["category"] = _l("Choose your category.")
    clean["category"] = category

    honorific = _raw(data, "honorific").strip()
    if honorific.lower() == "none":
        honorific = ""
    matches = [h for h in HONORIFICS if h.lower() == honorific.lower()]
    if not matches:
        errors["honorific"] = _l("Choose an honorific from the list, or none.")
    clean["honorific"] = matches[0] if matches else honorific

    for name, limit in MAX_LENGTHS.items():
        try:
            value = clean_text(_raw(data, name), multiline=name in MULTILINE)
        except InvalidText:
            errors[name] = _l("This contains a control character that cannot be stored. "
                              "Retype it without copying from another program.")
            value = _raw(data, name)
        else:
            if len(value) > limit:
                errors[name] = _l("Use at most %(n)d characters.", n=limit)
        clean[name] = value

    if not clean["given_name"] and not clean["family_name"] and "given_name" not in errors:
        # One name is enough: many people have a single name.
        errors["given_name"] = _l("Enter your name. If you have only one name, enter it here.")
    if not clean["badge_name"] and "badge_name" not in errors:
        clean["badge_name"] = " ".join(p for p in (clean["given_name"], clean["family_name"]) if p)
        if len(clean["badge_name"]) > NAME_MAX:
            errors["badge_name"] = _l("Your full name is long: enter a shorter form for the "
                                      "badge (at most %(n)d characters).", n=NAME_MAX)
    for name in ("organisation", "position"):
        if not clean[name] and name not in errors:
            errors[name] = (_l("Enter your organisation.") if name == "organisation"
                            else _l("Enter your position or job title."))

    country = _raw(data, "country").strip().upper()
    if country not in COUNTRY_CODES:
        errors["country"] = _l("Choose a country or region from the list.")
    clean["country"] = country

    try:
        clean["email"] = clean_email(_raw(data, "email"))
    except ValueError as exc:
        errors["email"] = exc.args[0]
        clean["email"] = _raw(data, "email").strip()

    try:
        clean["phone"] = clean_phone(_raw(data, "phone"), country if country in COUNTRY_CODES
                                     else "")
    except ValueError as exc:
        errors["phone"] = exc.args[0]
        clean["phone"] = _raw(data, "phone").strip()

    if require_consent and _raw(data, "consent").strip().lower() not in TRUE_WORDS:
        errors["consent"] = _l("We can only accredit you with your consent to process your "
                               "personal data.")

    if category in CATEGORY_KEYS:
        details, detail_errors = clean_details(category, data, require=require_category_fields)
        if category == "government" and not details.get("delegation") and country in COUNTRY_CODES:
            details["delegation"] = country
        clean["details"] = details
        errors.update(detail_errors)
    else:
        clean["details"] = {}
    clean["identity"] = None
    if category in CATEGORY_KEYS:
        from .identity_rules import clean_identity, edition_rule

        rule = edition_rule()
        if rule is not None and rule.asks(category):
            clean["identity"], identity_errors = clean_identity(data, rule,
                                                                required=require_identity)
            errors.update(identity_errors)
    return clean, errors
