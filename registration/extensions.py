"""Extension objects, created unbound and attached to an app in `create_app`."""

from typing import TYPE_CHECKING

from flask import Flask, current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so that migrations are identical on SQLite and PostgreSQL and can be
# altered later (SQLite batch mode needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    # Flask-SQLAlchemy builds db.Model at run time (table names, query property); type
    # checkers see the declarative base it is made from.
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def client_address() -> str:
    """The client's address as the trusted proxies (ProxyFix, TRUSTED_PROXIES) report it."""
    from flask import request

    return request.remote_addr or "unknown"


# Rate limits (registration/ratelimits.py has the per-route limits; settings RATELIMIT_*).
limiter = Limiter(key_func=client_address)


def real_app() -> Flask:
    """The app object behind `current_app` (for signal senders and threads that outlive the
    request)."""
    return current_app._get_current_object()  # type: ignore[attr-defined]
