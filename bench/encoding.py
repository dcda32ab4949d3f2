"""Benchmark image encoding (not a test): time and bytes per format and setting.

    .venv/bin/python -m bench.encoding [--runs 20]

Takes a real headless-Chromium screenshot of a busy page (text, gradients, a photo-like
noise area) at 1200x630 and 2400x1260, then encodes it with each setting. The baseline is
Pillow's default PNG (compress_level 6) in the same run.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from shared.imaging import encode_screenshot
from worker.engines import make_engine

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body { margin: 0; font: 28px/1.4 sans-serif; background: linear-gradient(120deg, #1d2230, #3d5afe); color: #fff; }
h1 { font-size: 64px; margin: 40px 48px 0; } p { margin: 16px 48px; max-width: 900px; }
canvas { position: absolute; right: 48px; bottom: 48px; border-radius: 12px; }
</style></head><body><h1>Live scoreboard — 42 : 17 ⚽️</h1>
<p>Quarter-final, second half. Possession 58% / 42%. Shots on target 7 / 3. Corners 6 / 2.
漢字とかなも表示します。Ünïcödé text, numbers 0123456789 and emoji 🎉🔥.</p>
<canvas id="c" width="360" height="240"></canvas>
<script>const c = document.getElementById('c').getContext('2d');
const d = c.createImageData(360, 240);
for (let i = 0; i < d.data.length; i += 4) { const v = (i * 2654435761) % 255;
  d.data[i] = v; d.data[i + 1] = (v * 7) % 255; d.data[i + 2] = (v * 13) % 255; d.data[i + 3] = 255; }
c.putImageData(d, 0, 0);</script></body></html>"""

SETTINGS = {
    "PNG level 6 (baseline)": ("PNG", {"compress_level": 6}),
    "PNG level 1 (ogshot fallback)": ("PNG", {"compress_level": 1}),
    "PNG optimize": ("PNG", {"optimize": True}),
    "JPEG q85 (ogshot)": ("JPEG", {"quality": 85}),
    "WebP q80 method 0 (ogshot)": ("WEBP", {"quality": 80, "method": 0}),
    "WebP q80 method 4": ("WEBP", {"quality": 80, "method": 4}),
}


def screenshot(size: tuple[int, int], scale: int) -> tuple[Image.Image, bytes]:
    """A real screenshot of PAGE: decoded, and the PNG the browser made."""
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(PAGE)
        engine = make_engine("chromium", 15)
        try:
            png = engine.screenshot(page.as_uri(), size[0], size[1], scale).png
        finally:
            engine.close()
    return Image.open(io.BytesIO(png)).convert("RGB"), png


def tables(runs: int) -> list[str]:
    """One Markdown table per size: median time and bytes per setting, against the baseline."""
    lines = []
    for label, scale in (("1200x630", 1), ("2400x1260", 2)):
        image, png = screenshot((1200, 630), scale)
        # What ogshot stores for a PNG: the browser's own, only checked (encode_screenshot).
        checks = []
        for _ in range(runs):
            started = time.perf_counter()
            encode_screenshot(png, "png", image.size)
            checks.append((time.perf_counter() - started) * 1000)
        rows = [("browser's PNG, checked (ogshot)", statistics.median(checks), len(png))]
        for name, (fmt, options) in SETTINGS.items():
            samples, size = [], 0
            for _ in range(runs):
                out = io.BytesIO()
                started = time.perf_counter()
                image.save(out, fmt, **options)
                samples.append((time.perf_counter() - started) * 1000)
                size = len(out.getvalue())
            rows.append((name, statistics.median(samples), size))
        base_ms, base_bytes = rows[1][1], rows[1][2]
        lines += ["", label, "", "| setting | median ms | KiB | x baseline time | x baseline bytes |",
                  "| --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
        lines += [f"| {name} | {ms:.1f} | {size / 1024:.0f} | {ms / base_ms:.2f} | "
                  f"{size / base_bytes:.2f} |" for name, ms, size in rows]  # fmt: skip
    return lines


def main() -> None:
    """Print the tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    print("\n".join(tables(parser.parse_args().runs)))


if __name__ == "__main__":
    main()
