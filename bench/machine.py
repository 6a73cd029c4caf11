"""What the benchmark ran on: CPU model, cores, RAM, OS and library versions (for the note)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def describe() -> dict[str, str]:
    import geopandas
    import numpy
    import pyproj
    import shapely

    return {
        "CPU": cpu_model(),
        "cores (os.cpu_count)": str(os.cpu_count()),
        "RAM": f"{ram_gb():.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "shapely / GEOS": f"{shapely.__version__} / {shapely.geos_version_string}",
        "geopandas / numpy / pyproj": f"{geopandas.__version__} / {numpy.__version__} / {pyproj.__version__}",
        "load average at start": load_average(),
    }
