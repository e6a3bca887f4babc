"""Charts shipped with Grand Livre, as CSV data.

`sfd-uemoa` follows the classes of the BCEAO's chart for decentralised financial systems
(RCSFD, version allégée), in French. Its general accounts come from a transcription of the
RCSFD (see shared/reference/uemoa-sfd.md); every account tagged `a-verifier` is a
subdivision or number that still has to be checked against the primary PDF, so the
template is not certified. `generic-en` is a plain English microfinance chart.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from chart_of_accounts.csv_io import parse_chart_csv
from chart_of_accounts.model import GLAccount

TEMPLATES: Final = {
    "sfd-uemoa": ("sfd_uemoa.csv", "Plan de comptes SFD (UEMOA/BCEAO, RCSFD) - non certifié"),
    "generic-en": ("generic_en.csv", "Generic microfinance chart (English)"),
}


def load_template(name: str) -> list[GLAccount]:
    """Accounts of a shipped template; a template with a problem is a packaging bug."""
    file_name, _label = TEMPLATES[name]
    text = resources.files(__package__).joinpath(file_name).read_text(encoding="utf-8")
    accounts, problems = parse_chart_csv(text)
    assert not problems, problems
    return accounts
