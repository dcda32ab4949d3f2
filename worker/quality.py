"""The quality gate: a render that is no preview is rejected before it is stored, so it never
replaces a good image (the HTTP status is checked by the engines as the page loads)."""

from __future__ import annotations

from shared.imaging import BLANK_SHARE, blank_share
from worker.engines import Shot


def rejection(shot: Shot, check_blank: bool) -> str:
    """Why ``shot`` must not be stored ("bot challenge (cloudflare)", "blank page", "loading
    placeholder"), or "".

    Blank is decided from the page as well as the pixels (Shot.content): a first screen that
    shows the page's own text, images, canvas, SVG or video is a page however plain its
    colours; one that shows only loading indicators is a page not yet there; one that shows
    nothing is blank where its pixels are one colour too (the look can miss content it has no
    name for, such as text drawn by CSS). Where the page broke the look, pixels alone decide.
    """
    if shot.challenge:
        return f"bot challenge ({shot.challenge})"
    if not check_blank or shot.content == "content":
        return ""
    if shot.content == "placeholder":
        return "loading placeholder"
    if blank_share(shot.png) >= BLANK_SHARE:
        return "blank page"
    return ""
