"""The visa letters' letterhead on the settings page (its own fieldset): organiser, address,
signatory name and title in English and Chinese, and the signature image (checked and
re-encoded like the logo)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Length

from ..models import Edition
from ..models.edition import LETTERHEAD
from ..services import edition_settings as service


class LetterheadFields:
    letter_organiser_en = StringField(_l("Organiser (English)"), validators=[Length(max=200)],
                                      description=_l("Empty: the organiser above."))
    letter_organiser_zh = StringField(_l("Organiser (Chinese)"), validators=[Length(max=200)])
    letter_address_en = TextAreaField(_l("Address (English)"), validators=[Length(max=1000)])
    letter_address_zh = TextAreaField(_l("Address (Chinese)"), validators=[Length(max=1000)])
    letter_signatory_en = StringField(_l("Signatory's name (English)"),
                                      validators=[Length(max=200)])
    letter_signatory_zh = StringField(_l("Signatory's name (Chinese)"),
                                      validators=[Length(max=200)])
    letter_signatory_title_en = StringField(_l("Signatory's title (English)"),
                                            validators=[Length(max=200)])
    letter_signatory_title_zh = StringField(_l("Signatory's title (Chinese)"),
                                            validators=[Length(max=200)])
    letter_signature = FileField(_l("Signature image"),
                                 description=_l("PNG or JPEG, at most %(mb)d MB.",
                                                mb=service.LOGO_MAX_BYTES // (1024 * 1024)))
    remove_letter_signature = BooleanField(_l("Remove the signature image"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok: bool = super().validate(extra_validators)  # type: ignore[misc]
        self.processed_signature: bytes | None = None
        upload = self.letter_signature.data
        if isinstance(upload, FileStorage) and upload.filename:
            try:
                self.processed_signature = service.process_logo(upload.read())[0]
            except service.LogoRejected as exc:
                self.letter_signature.errors = [*self.letter_signature.errors, exc.message]
                ok = False
        return ok

    def letterhead_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: (getattr(self, name).data or "").strip()
                                  for name in LETTERHEAD}
        if self.processed_signature is not None:
            values["letter_signature"] = self.processed_signature
        elif self.remove_letter_signature.data:
            values["letter_signature"] = None
        return values


def letterhead_data(edition: Edition) -> dict[str, Any]:
    return {name: getattr(edition, name) for name in LETTERHEAD}
