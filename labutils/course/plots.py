"""Plots of the lab's results (notebooks 06 and 07): each takes a DataFrame and returns the Axes.

Small and composable (after d2l's ``plot``/``set_axes``): pass ``ax`` to draw
into a figure of your own, and ``save(ax, name)`` to keep a PNG under work/.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from labutils.settings import settings, work_dir
from labutils.util import human_size


def set_axes(ax, title: str, xlabel: str, ylabel: str = "", xscale: str = "linear", legend: bool = False):
    """Title, labelled axes (with units), scale and a light grid, in one call."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xscale(xscale)
    ax.grid(True, axis="x", which="major", alpha=0.3)
    if legend:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False)
    return ax


def _axes(ax, rows: float):
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.55 * rows + 1.6), layout="constrained")
    return ax


def sizes(summary: pd.DataFrame, ax=None, book: bool = True):
    """Image size per approach on a log axis (805 MB and 2 MB on one linear axis hide the small ones).

    ``summary`` needs ``approach`` and ``size_bytes``; with ``book_mb`` the
    book's figure is marked beside ours.
    """
    ax = _axes(ax, len(summary))
    y = range(len(summary))
    mb = summary["size_bytes"] / 1e6
    floor = 10 ** math.floor(math.log10(mb.min())) / 2       # bars start here: log axes have no zero
    ax.set_xscale("log")
    ax.barh(y, mb - floor, left=floor, color="tab:blue", label="this machine")
    marks = summary["book_mb"].fillna(0) if "book_mb" in summary else mb * 0
    for i, (value, size, mark) in enumerate(zip(mb, summary["size_bytes"], marks, strict=True)):
        ax.text(max(value, mark) * 1.15, i, human_size(size), va="center", fontsize=9)
    if book and "book_mb" in summary:
        ax.scatter(summary["book_mb"], y, marker="|", s=400, color="tab:red", zorder=3, label="the book")
    ax.set_yticks(list(y), summary["approach"])
    ax.invert_yaxis()
    ax.set_xlim(floor, max(mb.max(), summary.get("book_mb", mb).max()) * 4)
    return set_axes(ax, "Image size per approach (log scale)", "image size (MB, log scale)",
                    xscale="log", legend=book and "book_mb" in summary)


def build_times(times: pd.DataFrame, ax=None):
    """Every build's seconds, cold and warm, per approach; the bar is the median, the whiskers the range."""
    order = list(dict.fromkeys(times["approach"]))
    ax = _axes(ax, len(order) * 1.4)
    colors = {"cold": "tab:orange", "warm": "tab:green"}
    for j, cache in enumerate(("cold", "warm")):
        for i, name in enumerate(order):
            s = times[(times["approach"] == name) & (times["cache"] == cache)]["seconds"]
            if s.empty:
                continue
            y = i + (j - 0.5) * 0.35
            med = s.median()
            ax.barh(y, med, height=0.33, color=colors[cache], alpha=0.55,
                    label=f"{cache} cache (median)" if i == 0 else None)
            ax.errorbar(med, y, xerr=[[med - s.min()], [s.max() - med]], fmt="none", ecolor="black",
                        capsize=3, lw=1)
            ax.scatter(s, [y] * len(s), s=12, color="black", zorder=3,
                       label="one build" if i == 0 and j == 0 else None)
    ax.set_yticks(range(len(order)), order)
    ax.invert_yaxis()
    n = times.groupby(["approach", "cache"]).size().min()
    return set_axes(ax, f"Build time, cold vs warm build cache ({n} builds each)",
                    "wall time (seconds, log scale)", xscale="log", legend=True)


def cross_vs_emulated(times: pd.DataFrame, ax=None):
    """Cold build seconds per platform, cross-compiled vs emulated (``multiplatform.measure_platforms``);
    the bar is the median, the whiskers the range, each dot one build."""
    order = list(dict.fromkeys(zip(times["work"], times["platform"], strict=True)))
    ax = _axes(ax, len(order) * 1.4)
    colors = {"cross": "tab:blue", "emulated": "tab:red"}
    for j, way in enumerate(colors):
        for i, (work, plat) in enumerate(order):
            s = times[(times["work"] == work) & (times["platform"] == plat) & (times["way"] == way)]["seconds"]
            if s.empty:
                continue
            y, med = i + (j - 0.5) * 0.35, s.median()
            ax.barh(y, med, height=0.33, color=colors[way], alpha=0.55, label=f"{way} (median)" if i == 0 else None)
            ax.errorbar(med, y, xerr=[[med - s.min()], [s.max() - med]], fmt="none", ecolor="black", capsize=3, lw=1)
            ax.scatter(s, [y] * len(s), s=12, color="black", zorder=3, label="one build" if i == 0 and j == 0 else None)
    ax.set_yticks(range(len(order)), [f"{plat}\n{work}" for work, plat in order])
    ax.invert_yaxis()
    n = times.groupby(["work", "platform", "way"]).size().min()
    return set_axes(ax, f"One Dockerfile, two platforms: cold build time ({n} builds each)",
                    "wall time (seconds, log scale)", xscale="log", legend=True)


def save(ax, name: str) -> Path:
    """Save the Axes' figure as ``work/figures/<name>.png``; returns the path."""
    out = settings().figures / (name if name.endswith(".png") else name + ".png")
    work_dir()
    out.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(out, dpi=120)
    return out


def floor(steps: pd.DataFrame, ax=None, title: str = "From the lab's image to the floor"):
    """Image size per step (bars) beside the size of the binary inside (dots): the floor is the binary."""
    ax = _axes(ax, len(steps))
    y = range(len(steps))
    ax.barh(y, steps["image_bytes"] / 1e6, color="tab:blue", alpha=0.7, label="image")
    ax.scatter(steps["binary_bytes"] / 1e6, y, color="black", zorder=3, label="the binary inside")
    for i, (size, ratio) in enumerate(zip(steps["image_bytes"], steps["ratio"], strict=True)):
        ax.text(size / 1e6 * 1.02, i, f"{human_size(size)}  (image/binary {ratio:.2f})", va="center", fontsize=9)
    ax.set_yticks(list(y), steps["step"])
    ax.invert_yaxis()
    ax.set_xlim(0, steps["image_bytes"].max() / 1e6 * 1.6)
    return set_axes(ax, title, "size (MB)", legend=True)


def wasted(analyses, ax=None):
    """Bytes each image wastes (kept in a lower layer, deleted or replaced above), per image."""
    ax = _axes(ax, len(analyses))
    names = [a.tag for a in analyses]
    mb = [a.wasted_bytes / 1e6 for a in analyses]
    ax.barh(range(len(names)), mb, color="tab:red", alpha=0.7)
    for i, a in enumerate(analyses):
        ax.text(mb[i] + max(mb) * 0.02 + 0.01, i, f"{human_size(a.wasted_bytes)} wasted, efficiency {a.efficiency:.0%}",
                va="center", fontsize=9)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, max(max(mb) * 1.8, 1))
    return set_axes(ax, "Wasted bytes per image (dive's definition)", "wasted (MB)")


def class_grid(grid: pd.DataFrame, ax=None, title: str = "The class: each learner's lab images"):
    """Learners × exercises, coloured by how far each got (``classview.grid``); returns the Axes."""
    from matplotlib.colors import ListedColormap

    from labutils.course.behaviour import STATUS
    colours = ["#ffffff", "#e0e0e0", "#d9534f", "#9ecae1", "#31a354"]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * max(len(grid.columns), 1) + 2.5, 0.5 * max(len(grid), 1) + 1.8),
                             layout="constrained")
    codes = grid.apply(lambda col: col.map(STATUS.index)).to_numpy(dtype=float) if len(grid) else [[0]]
    ax.imshow(codes, cmap=ListedColormap(colours), vmin=0, vmax=len(STATUS) - 1, aspect="auto")
    ax.set_xticks(range(len(grid.columns)), list(grid.columns), rotation=20, ha="right")
    ax.set_yticks(range(len(grid.index)), list(grid.index))
    for (i, j), text in ((( i, j), grid.iat[i, j]) for i in range(len(grid)) for j in range(len(grid.columns))):
        ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel("exercise")
    ax.set_ylabel("learner (namespace)")
    return ax
