"""The staff console: complaints, transcripts, handover queue, delivery problems.

Staff sign in with the accounts `warga users create` makes. Staff see their agency's
complaints; supervisors and admins see every agency's (only admins see the unparseable
requests). Every form carries a CSRF token; every citizen-supplied
string is escaped by Jinja's autoescaping.

Each module below registers its routes on `bp` when imported.
"""

# One module a line (the trailing comma keeps it so): helpers add theirs without conflicts.
from bot.web.console import (  # noqa: F401  (route registration)
    auth,
    casework,
    complaints,
    conversations,
    dashboard,
    inbox,
    labels,
    nlu,
    transcripts,
    users,
)
from bot.web.console.blueprint import bp
from bot.web.console.common import same_token

__all__ = ["bp", "same_token"]
