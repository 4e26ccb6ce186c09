"""Coverage heatmaps: capacity x authenticity, one panel per complexity type, gaps marked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from spectrumgen.schemas.spec import Spec

CellKey = tuple[str, str, str]


def plot_coverage(spec: Spec, counts: Mapping[CellKey, int], path: str | Path) -> Path:
    """Draw the ledger's coverage of a spec to a PNG file; an empty cell is marked with a cross."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen
    import matplotlib.pyplot as plt

    capacities = spec.bucket_names("capacity_level")
    targets = spec.bucket_names("authenticity_target")
    types = spec.bucket_names("complexity_type")
    columns = min(4, len(types))
    rows = math.ceil(len(types) / columns)
    highest = max([1, *counts.values()])
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(3.0 * columns + 1.5, 3.0 * rows + 0.8),
        squeeze=False,
        layout="constrained",
    )
    image = None
    for index, complexity in enumerate(types):
        axis = axes[index // columns][index % columns]
        grid = [[counts.get((c, t, complexity), 0) for t in targets] for c in capacities]
        image = axis.imshow(grid, cmap="YlGn", vmin=0, vmax=highest, aspect="auto")
        for row, capacity in enumerate(capacities):
            for column, target in enumerate(targets):
                value = counts.get((capacity, target, complexity), 0)
                axis.text(
                    column,
                    row,
                    "X" if value == 0 else str(value),
                    ha="center",
                    va="center",
                    color="#c0392b" if value == 0 else "black",
                    fontsize=11 if value == 0 else 9,
                )
        axis.set_title(complexity, fontsize=10)
        axis.set_xticks(range(len(targets)), targets, fontsize=7, rotation=30)
        first_column = index % columns == 0
        axis.set_yticks(range(len(capacities)), capacities if first_column else [], fontsize=7)
    for index in range(len(types), rows * columns):
        axes[index // columns][index % columns].axis("off")
    total = sum(counts.values())
    missing = sum(
        1 for c in capacities for t in targets for x in types if counts.get((c, t, x), 0) == 0
    )
    figure.suptitle(
        f"{spec.name}: {total} examples, {missing} of "
        f"{len(capacities) * len(targets) * len(types)} cells empty (X)  "
        "[rows: capacity, columns: authenticity]",
        fontsize=10,
    )
    if image is not None:
        figure.colorbar(image, ax=axes, shrink=0.6, label="examples")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
