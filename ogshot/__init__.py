"""The ``ogshot`` command line: it composes the web tier and the worker, so it stands above
both (and above ``shared``); nothing below imports it."""
