"""Chinese fonts for report maps and PDFs (Debian ``fonts-noto-cjk``), found once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from matplotlib import font_manager

CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


@lru_cache(maxsize=1)
def cjk_font() -> font_manager.FontProperties | None:
    """A FontProperties that can draw Chinese, or None (labels then fall back to the default font)."""
    for candidate in CANDIDATES:
        if Path(candidate).exists():
            font_manager.fontManager.addfont(candidate)
            return font_manager.FontProperties(fname=candidate)
    for font in font_manager.fontManager.ttflist:
        if "CJK" in font.name or "Hei" in font.name:
            return font_manager.FontProperties(fname=font.fname)
    return None
