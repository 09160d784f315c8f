"""What a delegate does through their private link under /manage/: status, edits, photo,
e-ticket, cancel, export, erase.

The package is the delegate's self-service, not administration (the URLs keep the /manage/
prefix printed in emails already sent); the rules it applies live in
services/self_service.py.
"""

from flask import Blueprint

bp = Blueprint("self_service", __name__, url_prefix="/manage")
