"""The verification page of visa invitation letters: `/verify/<token>` from a letter's QR
code. Anyone may open it (embassy officers); it says, in English and Chinese, whether the
letter is genuine and valid, withdrawn, or not genuine, with the holder's name and a masked
passport number only."""

from __future__ import annotations

from flask import render_template

from ..extensions import limiter
from ..ratelimits import setting
from ..services import visa_letters
from .views import bp

STATUS_CODES = {"genuine": 200, "withdrawn": 200, "not_genuine": 404}
# The page is in both languages at once, whatever the visitor's language (it is for any
# embassy officer who scans a letter), so its words are pairs rather than gettext strings.
WORDS = {
    "title": ("Visa letter verification", "邀请函核验"),
    "heading": ("Visa invitation letter", "签证邀请函核验"),
    "genuine": ("Genuine and valid.", "此邀请函真实有效。"),
    "withdrawn": ("Withdrawn: this letter was issued by the organiser but is no longer valid.",
                  "已撤销：此邀请函曾由主办方签发，现已失效。"),
    "not_genuine": ("Not genuine: this letter was not issued by the organiser, or its code "
                    "was altered.", "无效：此邀请函并非由主办方签发，或二维码已被篡改。"),
    "reference": ("Reference", "编号"),
    "name": ("Name", "姓名"),
    "passport": ("Passport number", "护照号码"),
    "event": ("Event", "会议"),
    "issued": ("Issued on", "签发日期"),
    "withdrawn_on": ("Withdrawn on", "撤销日期"),
    "compare": ("Compare the name and the last characters of the passport number with the "
                "passport presented.", "请核对姓名及护照号码末位与所持护照是否一致。"),
}


@bp.get("/verify/<token>")
@limiter.limit(setting("RATELIMIT_VERIFY"))
def verify_letter(token: str) -> tuple[str, int, dict[str, str]]:
    verdict = visa_letters.verify(token[:200])
    html = render_template("public/verify_letter.html", verdict=verdict, words=WORDS)
    return html, STATUS_CODES[verdict.status], {
        "Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow",
        "Referrer-Policy": "no-referrer"}

