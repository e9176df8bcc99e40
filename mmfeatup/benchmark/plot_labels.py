"""Label placement for scatter plots: each label beside its point, none overlapping."""
from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple


def _inside(box: Any, frame: Any) -> bool:
    """Whether ``box`` lies within ``frame`` (two matplotlib ``Bbox``)."""
    return (frame.x0 <= box.x0 and box.x1 <= frame.x1
            and frame.y0 <= box.y0 and box.y1 <= frame.y1)


def _free(box: Any, taken: Sequence[Any], pad: float) -> bool:
    """Whether ``box`` grown by ``pad`` pixels overlaps none of ``taken`` (``Bbox``)."""
    grown = box.padded(pad)
    return not any(grown.overlaps(other) for other in taken)


def annotate_apart(ax: Any, points: Sequence[Tuple[float, float]], labels: Sequence[str],
                   errors: Optional[Sequence[float]] = None, fontsize: float = 8) -> List[Any]:
    """Label points so that no label overlaps another label, a marker or an error bar.

    Each label takes the free place nearest to its point (beside, above or below it, then
    farther out), inside the axes when possible; a label that ends up away from its point
    gets a thin leader line. Works in display coordinates: call it once the axes' scales,
    limits and the figure's layout are final.

    Args:
        ax (matplotlib.axes.Axes): the axes.
        points (Sequence[tuple[float, float]]): the points, data coordinates.
        labels (Sequence[str]): one label per point.
        errors (Sequence[float], optional): the vertical error bar (+-) of each point, data
            units; None for none.
        fontsize (float): font size in points. Default: 8.

    Returns:
        list[matplotlib.text.Annotation]: the labels, in the order of ``points``.
    """
    from matplotlib.transforms import Bbox

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    unit = fig.dpi / 72  # pixels per point
    errors = list(errors) if errors is not None else [0.0] * len(points)
    obstacles = []  # markers and error bars
    for (x, y), err in zip(points, errors):
        (px, py), (_, low), (_, high) = ax.transData.transform([(x, y), (x, y - err),
                                                               (x, y + err)])
        obstacles.append(Bbox([[px - 4 * unit, min(low, py - 4 * unit)],
                               [px + 4 * unit, max(high, py + 4 * unit)]]))
    frame = ax.get_window_extent(renderer)
    placed: List[Any] = []
    labelled: List[Any] = [None] * len(points)
    display = ax.transData.transform(points)
    # bottom-up, left to right: a cluster's labels are placed in a stable order
    for index in sorted(range(len(points)), key=lambda i: (display[i][1], display[i][0])):
        px, py = display[index]
        probe = ax.text(0, 0, labels[index], fontsize=fontsize)
        size = probe.get_window_extent(renderer)
        probe.remove()
        width, height, near = size.width, size.height, 5 * unit
        rows = [-height / 2 + j * (height + unit) for j in range(-14, 15)]
        columns = [near, -near - width, -width / 2] + [
            dx for k in (1, 2, 3) for dx in (near + 2 * k * height,
                                              -near - width - 2 * k * height)]
        offsets = sorted(((dx, dy) for dx in columns for dy in rows),
                         key=lambda o: math.hypot(o[0] + width / 2, o[1] + height / 2))
        boxes = [Bbox.from_bounds(px + dx, py + dy, width, height) for dx, dy in offsets]
        taken = placed + obstacles
        choice = next((i for i, box in enumerate(boxes)
                       if _inside(box, frame) and _free(box, taken, unit)), None)
        if choice is None:  # no room inside the axes: outside, else on top of another
            choice = next((i for i, box in enumerate(boxes) if _free(box, taken, unit)), 0)
        chosen, box = offsets[choice], boxes[choice]
        gap = math.hypot(max(box.x0 - px, 0, px - box.x1), max(box.y0 - py, 0, py - box.y1))
        leader = dict(arrowstyle='-', lw=0.5, color='0.5', shrinkA=0, shrinkB=3)
        label = ax.annotate(labels[index], points[index], textcoords='offset points',
                            xytext=(chosen[0] / unit, chosen[1] / unit), ha='left', va='bottom',
                            fontsize=fontsize, arrowprops=leader if gap > 8 * unit else None)
        placed.append(box)
        labelled[index] = label
    return labelled
