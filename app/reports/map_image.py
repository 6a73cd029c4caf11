"""The report map: the site, the zones around it, a scale bar and a north arrow.

Drawn with matplotlib in a local azimuthal-equidistant projection centred on the site so that the
scale bar is true in every direction near the site. Restricted layers are never drawn (their
boundaries must not leave the server); illustrative layers are labelled as such in the legend.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrow, Patch, Rectangle
from shapely.geometry.base import BaseGeometry

from app.reports.fonts import cjk_font

KIND_COLOURS = {
    "ecological_red_line": ("#ef5350", "#c62828"),
    "national_park": ("#4caf50", "#1b7a34"),
    "nature_reserve": ("#8bc34a", "#2e6b1f"),
    "security_pattern": ("#e8dc9a", "#7b6f2a"),
    "control_unit": ("#ce93d8", "#6a1b9a"),
    "drinking_water_source": ("#4fc3f7", "#0277bd"),
    "lake": ("#90caf9", "#1565c0"),
    "river": ("none", "#1565c0"),
    "urban_space": ("#bdbdbd", "#616161"),
    "industrial_park": ("#ffb74d", "#e65100"),
    "river_basin": ("none", "#0d47a1"),
    "admin": ("none", "#555555"),
}


@dataclass(frozen=True)
class MapLayer:
    """One layer's features around the site, already clipped to the map window (EPSG:4490)."""

    layer_id: str
    title: str
    kind: str
    accuracy: str
    features: gpd.GeoDataFrame
    highlight_ids: frozenset[str] = frozenset()


def _nice_length(max_m: float) -> float:
    for step in (50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000):
        if step >= max_m / 4:
            return float(step)
    return 200_000.0


def render_map_png(site: BaseGeometry, layers: list[MapLayer], half_width_m: float, dpi: int = 150) -> bytes:
    """PNG bytes of the site map; ``half_width_m`` is the window's half width around the site."""
    font = cjk_font()
    centre = site.centroid
    local = f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +ellps=GRS80 +units=m"
    fig, ax = plt.subplots(figsize=(8, 7), dpi=dpi)
    handles = []
    for layer in layers:
        if layer.features.empty:
            continue
        face, edge = KIND_COLOURS.get(layer.kind, ("#dddddd", "#666666"))
        frame = layer.features.to_crs(local)
        is_line = frame.geom_type.str.contains("Line").all()
        frame.plot(
            ax=ax,
            facecolor="none" if is_line else face,
            edgecolor=edge,
            linewidth=1.6 if is_line else 0.8,
            alpha=0.45 if not is_line else 0.9,
        )
        if layer.highlight_ids:
            hit = frame[frame["feature_id"].astype(str).isin(layer.highlight_ids)]
            if not hit.empty:
                hit.plot(ax=ax, facecolor="none", edgecolor="#ff1744", linewidth=2.2)
        label = layer.title + ("（示意 illustrative）" if layer.accuracy == "illustrative" else "")
        handles.append(Patch(facecolor=face if face != "none" else "white", edgecolor=edge, label=label))
    site_local = gpd.GeoSeries([site], crs="EPSG:4490").to_crs(local)
    if site.geom_type in ("Point", "MultiPoint"):
        site_local.plot(ax=ax, color="black", markersize=40, marker="*", zorder=5)
    else:
        site_local.plot(ax=ax, facecolor="none", edgecolor="black", linewidth=2.2, zorder=5)
    handles.append(Patch(facecolor="white", edgecolor="black", label="项目场址 site"))
    ax.set_xlim(-half_width_m, half_width_m)
    ax.set_ylim(-half_width_m, half_width_m)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    _scale_bar(ax, half_width_m, font)
    _north_arrow(ax, half_width_m, font)
    legend = ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.85, prop=font)
    if font is not None:
        for text in legend.get_texts():
            text.set_fontproperties(font)
            text.set_fontsize(7)
    ax.set_title(
        f"场址位置 Site location  ({centre.x:.5f}, {centre.y:.5f})  CGCS2000",
        fontproperties=font,
        fontsize=10,
    )
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _scale_bar(ax, half_width_m: float, font) -> None:
    length = _nice_length(2 * half_width_m)
    x0 = half_width_m * 0.35
    y0 = -half_width_m * 0.9
    height = half_width_m * 0.02
    ax.add_patch(Rectangle((x0, y0), length / 2, height, facecolor="black", edgecolor="black"))
    ax.add_patch(Rectangle((x0 + length / 2, y0), length / 2, height, facecolor="white", edgecolor="black"))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / 2, y0 + height * 2, label, ha="center", va="bottom", fontsize=8, fontproperties=font)


def _north_arrow(ax, half_width_m: float, font) -> None:
    x = half_width_m * 0.85
    y = half_width_m * 0.62
    ax.add_patch(
        FancyArrow(x, y, 0, half_width_m * 0.18, width=half_width_m * 0.025,
                   head_width=half_width_m * 0.08, head_length=half_width_m * 0.07, color="black")
    )
    ax.text(x, y + half_width_m * 0.27, "N 北", ha="center", va="bottom", fontsize=10, fontproperties=font)
