"""What a delegation's focal point does under /delegation/: sign in by emailed link, see the
delegation, nominate, substitute, name the head of delegation, upload the letter. The
session is the focal point's own (not a staff account); it sees one delegation only."""

from flask import Blueprint

bp = Blueprint("delegation", __name__, url_prefix="/delegation")
