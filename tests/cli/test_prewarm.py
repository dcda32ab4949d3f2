"""The prewarm client's readers and its summary (the HTTP part runs end to end in e2e)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from ogshot.cli import build_parser
from ogshot.options import query_options as render_options
from ogshot.prewarm import Summary, read_sitemap, read_url_file, report

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def urlset(*urls: str) -> bytes:
    """A plain sitemap."""
    return f"<urlset {NS}>{''.join(f'<url><loc> {u} </loc></url>' for u in urls)}</urlset>".encode()


def test_plain_gzipped_and_index_sitemaps(tmp_path: Path) -> None:
    """An index's sitemaps are read, gzipped or not, from paths or URLs, in order."""
    files = {
        "https://s.example/a.xml.gz": gzip.compress(urlset("https://e.com/1", "https://e.com/2")),
        "https://s.example/b.xml": urlset("https://e.com/3"),
        "https://s.example/index.xml": (
            f"<sitemapindex {NS}><sitemap><loc>https://s.example/a.xml.gz</loc></sitemap>"
            f"<sitemap><loc>https://s.example/b.xml</loc></sitemap></sitemapindex>"
        ).encode(),
    }
    assert read_sitemap("https://s.example/index.xml", files.__getitem__) == [
        "https://e.com/1",
        "https://e.com/2",
        "https://e.com/3",
    ]
    path = tmp_path / "sitemap.xml.gz"
    path.write_bytes(gzip.compress(urlset("https://e.com/x")))
    assert read_sitemap(str(path)) == ["https://e.com/x"]


def test_index_loops_are_cut() -> None:
    """An index that includes itself stops at the depth limit instead of recursing forever."""
    index = f"<sitemapindex {NS}><sitemap><loc>self</loc></sitemap></sitemapindex>".encode()
    with pytest.raises(ValueError, match="nested deeper"):
        read_sitemap("self", lambda _: index)


def test_url_file_skips_blanks_and_comments(tmp_path: Path) -> None:
    """One URL per line; blank lines and # comments are ignored."""
    path = tmp_path / "urls.txt"
    path.write_text("# pages\nhttps://e.com/a\n\n  https://e.com/b  \n")
    assert read_url_file(str(path)) == ["https://e.com/a", "https://e.com/b"]


def test_report_exit_codes() -> None:
    """Exit 0 only when every job is done and nothing was refused."""
    ok = Summary(jobs={"1": {"url": "u", "status": "done"}})
    assert report(ok, waited=True, out=io.StringIO()) == 0
    refused = Summary(jobs={}, rejected=[{"url": "x", "reason": "no"}])
    out = io.StringIO()
    assert report(refused, waited=False, out=out) == 1
    assert "rejected x: no" in out.getvalue()
    failed = Summary(jobs={"1": {"url": "u", "status": "failed", "error": "HTTP 500"}})
    assert report(failed, waited=True, out=io.StringIO()) == 1


def test_render_options_reach_the_request_body() -> None:
    """--hide (repeated, never split), --selector, --dark, --delay and --wait-for become the
    pre-warm body's options, by the image URL's names; options not given are left out."""
    given = ["--hide", ".a", "--hide", ".b,.c", "--dark", "--delay", "300", "--wait-for", "#x"]
    args = build_parser().parse_args(["prewarm", "https://e.com/", *given])
    assert render_options(args) == {
        "hide": [".a", ".b,.c"], "dark": True, "delay": 300, "wait_for": "#x",
    }  # fmt: skip
    assert render_options(build_parser().parse_args(["prewarm", "https://e.com/"])) == {}
