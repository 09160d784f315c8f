"""A delegate's private manage link: status, edits, photo, e-ticket, cancel, export, erase."""

from flask import Blueprint

bp = Blueprint("manage", __name__, url_prefix="/manage")
