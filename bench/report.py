"""The benchmark's table: figures, ratios against same-run baselines, and the issue's targets."""

from __future__ import annotations

from dataclasses import dataclass

from measure import Measurement

# Per-document time may vary by this much from the smallest to the largest stream and still be "flat".
FLAT_TOLERANCE = 1.2


@dataclass(frozen=True)
class Target:
    """A goal for one ratio: `at_least` for speed-ups (baseline / ours), `at_most` for growth ratios."""

    text: str
    at_least: float | None = None
    at_most: float | None = None
    strictly: bool = False  # "faster than" means more than 1×, not equal

    def verdict(self, ratio: float) -> str:
        if self.at_least is not None:
            met = ratio > self.at_least if self.strictly else ratio >= self.at_least
        else:
            met = ratio <= (self.at_most if self.at_most is not None else float("inf"))
        return "met" if met else "NOT MET"


STARTUP = Target("≤ 3.5× python", at_most=3.5)
STARTUP_INSTRUCTIONS = Target("≤ 3.0× python", at_most=3.0)
HELM = Target("≤ 1.5×", at_most=1.5)
BUNDLE_VS_PARSE = Target("≥ 5× faster", at_least=5.0)
BUNDLE_VS_KUSTOMIZE = Target("≥ 15× faster", at_least=15.0)
STREAM_10K_VS_PARSE = Target("faster", at_least=1.0, strictly=True)
STREAM_10K_VS_KUSTOMIZE = Target("≥ 100× faster", at_least=100.0)
SCALING = Target(f"flat (≤ {FLAT_TOLERANCE}×)", at_most=FLAT_TOLERANCE)
MEMORY = Target("≤ 1.3×", at_most=1.3)


@dataclass
class Row:
    what: str
    ours: str
    baseline: str
    baseline_figure: str
    ratio: str
    target: Target | None = None
    ratio_value: float | None = None

    def cells(self) -> list[str]:
        if self.target is None or self.ratio_value is None:
            return [self.what, self.ours, self.baseline, self.baseline_figure, self.ratio, "", ""]
        return [self.what, self.ours, self.baseline, self.baseline_figure, self.ratio, self.target.text,
                self.target.verdict(self.ratio_value)]


def seconds(measurement: Measurement) -> str:
    value = measurement.median
    text = f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s" if value < 100 else f"{value:.0f} s"
    return f"~{text} (est.)" if measurement.estimated else text


def speed_ratio(ours: Measurement, baseline: Measurement) -> tuple[str, float]:
    """How many times faster we are than the baseline (or slower, when below 1)."""
    ratio = baseline.median / ours.median
    text = f"{ratio:.1f}× faster" if ratio >= 1 else f"{1 / ratio:.1f}× slower"
    return ("~" + text if baseline.estimated else text), ratio


def speed_row(what: str, ours: Measurement, baseline: Measurement, target: Target | None) -> Row:
    text, ratio = speed_ratio(ours, baseline)
    return Row(what, seconds(ours), baseline.label, seconds(baseline), text, target, ratio)


def startup_row(what: str, ours: Measurement, python: Measurement) -> Row:
    ratio = ours.median / python.median
    return Row(what, seconds(ours), python.label, seconds(python), f"{ratio:.2f}× python", STARTUP, ratio)


def instructions_row(what: str, ours: int, python: int) -> Row:
    ratio = ours / python
    return Row(what, f"{ours / 1e6:.0f} M instr.", "python -c pass", f"{python / 1e6:.0f} M instr.",
               f"{ratio:.2f}× python", STARTUP_INSTRUCTIONS, ratio)


def helm_row(what: str, with_us: Measurement, without: Measurement) -> Row:
    ratio = with_us.median / without.median
    return Row(what, seconds(with_us), "the same without", seconds(without), f"{ratio:.2f}×", HELM, ratio)


def render(header: list[str], rows: list[Row], notes: list[str]) -> str:
    titles = ["measurement", "sidecar-policy", "baseline", "baseline took", "ratio", "target", "verdict"]
    table = [titles]
    for number, row in enumerate(rows):
        cells = row.cells()
        if number and rows[number - 1].what == row.what:
            cells[0] = ""  # one label per input: its rows follow each other
        table.append(cells)
    widths = [max(len(line[column]) for line in table) for column in range(len(titles))]
    lines = [*header, ""]
    for number, line in enumerate(table):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)
