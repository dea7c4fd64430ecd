"""Checks on a well-formed email address beyond its syntax (issues 13.4 and 18.4).

- ``formula_email``: the address starts with a character a spreadsheet reads as the start
  of a formula (:data:`audience.cells.FORMULA_STARTS`). ``=1+2@example.com`` is valid
  syntax, but every export writes the address exactly, since the platform matches on it,
  so it can be neither neutralised nor written: such a contact is quarantined here.
- ``email_too_long``: more than 64 characters before the ``@``, the limit of RFC 5321
  (section 4.5.3.1.1) that mail servers enforce. The limit on the whole address (254) is
  part of the syntax check (``invalid_email``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audience.cells import FORMULA_PATTERN
from audience.validate.findings import Findings, shown

MAX_LOCAL_PART = 64


def check_email_limits(emails: pd.Series, valid: np.ndarray, found: Findings, column: str) -> None:
    """Record the two reasons for the ``valid`` (present, well-formed) ``emails``;
    ``column`` is the column as the file calls it, quoted, for the messages."""
    formula = valid & emails.str.match(FORMULA_PATTERN).fillna(False).to_numpy(dtype=bool)
    found.add(
        formula,
        "formula_email",
        lambda i: (
            f"{column} starts with {emails.iloc[i][0]!r}, which makes a spreadsheet run the "
            f"cell as a formula, got {shown(emails, i)}; a platform needs the exact address, "
            "so it cannot be exported safely"
        ),
    )
    local = emails.str.replace(r"@[^@]*$", "", regex=True).str.len()
    long = valid & (local > MAX_LOCAL_PART).fillna(False).to_numpy(dtype=bool)
    found.add(
        long,
        "email_too_long",
        lambda i: (
            f"{column} has {int(local.iloc[i])} characters before the @, more than the "
            f"{MAX_LOCAL_PART} email allows (RFC 5321), got {shown(emails, i)}"
        ),
    )
