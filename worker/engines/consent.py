"""Consent banners kept out of the image, with DuckDuckGo's autoconsent (MPL-2.0).

scripts/install-autoconsent puts a pinned, checked copy of the package's self-starting build
(its rules for the common consent managers compiled in) into the Python environment; the
engines inject it into pages after ``load``. It refuses consent where the banner lets it
(what a visitor who clicks "reject" sees), and hides the banner meanwhile and where it
cannot. Nothing updates its rules at run time.
"""

from __future__ import annotations

import sys
from pathlib import Path

from worker.engines import BrowserError

AUTOCONSENT = Path(sys.prefix) / "share" / "ogshot" / "autoconsent" / "autoconsent.standalone.js"

# Injecting autoconsent costs 50-120 ms of the page's time (415 KB of script), so it is
# injected only into pages that speak of cookies or consent where a visitor can read it:
# every consent banner does, in the languages below, and most pages without one do not.
MENTIONS_CONSENT_SCRIPT = r"""
const text = document.body ? document.body.innerText : '';
return /cookie|consent|gdpr|rgpd|dsgvo|datenschutz|kakor|evästeet|informasjonskapsler/i.test(text);
"""


def load_autoconsent(path: Path = AUTOCONSENT) -> str:
    """The script to inject; a BrowserError that says how to install it when it is missing."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BrowserError(
            f"autoconsent is not installed at {path} (run scripts/install-autoconsent, or set "
            f"OGSHOT_HIDE_CONSENT=0 to render consent banners): {exc.strerror}"
        ) from exc
