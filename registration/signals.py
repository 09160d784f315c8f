"""Domain events, sent by services inside their transaction (before commit).

Receivers (e.g. the mail outbox) add rows to the same session, so a message is stored
atomically with the change it reports — or not at all if the change is rolled back.
"""

from blinker import Namespace

_signals = Namespace()

# sender: the Flask app; keyword `delegate` (and the ones noted) for each.
delegate_registered = _signals.signal("delegate-registered")
delegate_approved = _signals.signal("delegate-approved")
delegate_rejected = _signals.signal("delegate-rejected")  # reason: str
badge_reprinted = _signals.signal("badge-reprinted")  # reason: str
delegate_cancelled = _signals.signal("delegate-cancelled")
