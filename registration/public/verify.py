"""The verification page of visa invitation letters: `/verify/<token>` from a letter's QR
code. Anyone may open it (embassy officers); it says, in English and Chinese, whether the
letter is genuine and valid, withdrawn, or not genuine, with the holder's name and a masked
passport number only."""

from __future__ import annotations

from flask import render_template

from ..countries import country_name
from ..extensions import limiter
from ..ratelimits import setting
from ..services import visa_letters
from .views import bp

STATUS_CODES = {"genuine": 200, "withdrawn": 200, "not_genuine": 404}


@bp.get("/verify/<token>")
@limiter.limit(setting("RATELIMIT_VERIFY"))
def verify_letter(token: str) -> tuple[str, int, dict[str, str]]:
    verdict = visa_letters.verify(token[:200])
    html = render_template("public/verify_letter.html", verdict=verdict,
                           nationality_en=country_name(verdict.letter.holder_nationality, "en")
                           if verdict.letter else "",
                           nationality_zh=country_name(verdict.letter.holder_nationality, "zh")
                           if verdict.letter else "")
    return html, STATUS_CODES[verdict.status], {
        "Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow",
        "Referrer-Policy": "no-referrer"}

