"""The staff desk: sign-in, delegates, accreditation, printing, walk-ins, import/export."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
