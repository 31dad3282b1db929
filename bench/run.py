"""Benchmark sidecar-policy against same-run baselines: `python3 bench/run.py [--quick]` (or `./dev bench`).

Builds its inputs into bench/.work/ (deterministic), measures every command several times, and
prints medians, ratios and the issue's targets. Exit 0 whatever the figures; 1 if a run broke.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path

import agree
import installed
import kustomize
import pods
import report
import startup
import streams
from measure import SHORT_RUN_REPEAT_FACTOR, SHORT_RUN_SECONDS, SLOW_RUN_REPEAT, SLOW_RUN_SECONDS, BenchError, Command, Measurement, measure_together
from report import Row

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
POLICY = ROOT / "bench" / "policy.yaml"
SHARED_DATA = Path(os.environ.get("SIDECAR_POLICY_SHARED_DATA", ROOT.parent / "shared" / "data"))
CORPUS = SHARED_DATA / "corpus"
BUNDLE = CORPUS / "kyverno-install-latest-testing.yaml"  # 4 MB, 19 CRDs: the CRD-heavy case
SMALL_CHART = CORPUS / "ingress-nginx-cloud-deploy-helm-4.0.15-with-source-comments.yaml"
FULL_PARSE = "import sys, yaml; list(yaml.load_all(sys.stdin.buffer, Loader=yaml.CSafeLoader))"
STREAM_10K = 10_000  # the size the issue sets its stream targets at
OURS, PARSE, KUSTOMIZE = "sidecar-policy", "PyYAML C full parse", "kubectl kustomize"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 runs each, sizes 1000,10000, kustomize budget 20 s (a smoke test, not figures)")
    parser.add_argument("--sizes", help="comma-separated document counts (default 1000,10000,100000)")
    parser.add_argument("--repeat", type=int, help="runs per measurement, median reported (default 5)")
    parser.add_argument("--tool", help="the command to measure, `--policy bench/policy.yaml` appended (default: the "
                                       "wheel of this checkout, installed by pip in a new venv under --work)")
    parser.add_argument("--no-helm", action="store_true", help="leave real Helm out")
    parser.add_argument("--bundle", type=Path, default=BUNDLE, help="the large CRD-heavy chart")
    parser.add_argument("--small-chart", type=Path, default=SMALL_CHART, help="the chart for start-up")
    parser.add_argument("--kustomize-budget", type=float,
                        help="run kustomize only where one run is predicted under this many seconds (default 60)")
    parser.add_argument("--no-kustomize", action="store_true", help="leave kustomize out")
    parser.add_argument("--work", type=Path, default=WORK,
                        help="where inputs and results.json go (default bench/.work)")
    parser.add_argument("--full-parse-limit", type=int, default=STREAM_10K,
                        help="skip the PyYAML full parse above this many documents (default 10000)")
    parser.add_argument("--pods-scales",
                        help="comma-separated scales of the `pods` cluster dump, ~300 pods each (default 2,20)")
    args = parser.parse_args(argv)
    args.pods_scales = sorted({int(scale) for scale in (args.pods_scales or ("1,3" if args.quick else "2,20")).split(",")})
    quick_sizes, full_sizes = "1000,10000", "1000,10000,100000"
    args.sizes = sorted({int(size) for size in (args.sizes or (quick_sizes if args.quick else full_sizes)).split(",")})
    args.repeat = args.repeat or (2 if args.quick else 5)
    args.kustomize_budget = args.kustomize_budget or (20.0 if args.quick else 60.0)
    return args


def tool_python(tool: list[str]) -> str:
    """The interpreter behind the tool's script (its shebang), so `python -c pass` is a fair baseline."""
    try:
        first = Path(tool[0]).read_bytes()[:200].split(b"\n", 1)[0].decode()
    except OSError:
        return sys.executable
    return first[2:].strip() if first.startswith("#!") and "python" in first else sys.executable


def count_documents(path: Path) -> int:
    """Document markers at line start, plus a first document without one: what a reader would see."""
    data = path.read_bytes()
    markers = len(re.findall(rb"(?m)^---(?:[ \t]|\r?$)", data))
    leading = data.split(b"\n---", 1)[0] if not data.startswith(b"---") else b""
    has_leading = any(line.strip() and not line.lstrip().startswith(b"#") for line in leading.splitlines())
    return markers + int(has_leading)


def describe(path: Path, name: str, docs: int) -> str:
    size = path.stat().st_size
    shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
    return f"{name} ({docs:,} docs, {shown})"


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.tool = shlex.split(args.tool) + ["--policy", str(POLICY)]
        self.python = tool_python(self.tool)
        self.bin_dir = Path(self.tool[0]).parent  # where Helm finds sidecar-policy (PATH)
        self.policy = POLICY
        self.work: Path = args.work
        self.kustomize_version = None if args.no_kustomize else kustomize.version()
        self.load_before = os.getloadavg()[0]
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.results: dict[str, dict[str, object]] = {}
        self.kustomize_points: list[tuple[int, float]] = []  # (documents, seconds) of real kustomize runs

    def progress(self, text: str) -> None:
        print(f"bench: {text}", file=sys.stderr, flush=True)

    def measure(self, what: str, commands: list[Command]) -> dict[str, Measurement]:
        self.progress(f"{what}: " + ", ".join(command.label for command in commands))
        results = measure_together(commands, self.args.repeat)
        for result in results:
            self.record(what, result)
        return {result.label: result for result in results}

    def record(self, what: str, result: Measurement) -> None:
        self.results.setdefault(what, {})[result.label] = {
            "median_s": result.median, "runs_s": result.seconds, "peak_rss_kib": result.peak_rss_kib,
            "cpu_s": result.cpu_seconds,
            "estimated": result.estimated, "note": result.note}

    def startup(self) -> Measurement:
        return startup.run(self, describe(self.args.small_chart, "start-up: small chart", count_documents(self.args.small_chart)), OURS)

    def throughput(self, what: str, stream: Path, name: str, full_parse: bool,
                   kustomized: Measurement | None = None) -> dict[str, Measurement]:
        """sidecar-policy, the full parse, cat and kustomize on one input, in rounds."""
        checked = self.kustomize_version is not None and kustomized is None
        commands = [Command(OURS, self.tool, stream, self.work / f"ours-{name}.yaml" if checked else None)]
        if full_parse:
            commands.append(Command(PARSE, [self.python, "-c", FULL_PARSE], stream))
        commands.append(Command("cat", ["cat"], stream))
        if checked:
            commands.append(self.kustomize_command(stream, name))
        results = self.measure(what, commands)
        if kustomized is not None:
            results[KUSTOMIZE] = kustomized
        if checked:
            ours, theirs = self.work / f"ours-{name}.yaml", self.work / f"kustomized-{name}.yaml"
            self.notes.append(agree.compare(what, ours, theirs))
        return results

    def kustomize_command(self, stream: Path, name: str) -> Command:
        directory = kustomize.prepare(self.work / f"kustomize-{name}", stream, POLICY)
        return Command(KUSTOMIZE, kustomize.command(directory), Path(os.devnull), self.work / f"kustomized-{name}.yaml")

    def kustomize_probe(self, docs: int) -> None:
        """A kustomize-only run (outside the size loop) that adds a point to the growth fit."""
        stream = self.work / f"stream-{docs}.yaml"
        streams.write_stream(stream, docs)
        measured = self.measure(f"{docs} docs", [self.kustomize_command(stream, f"stream-{docs}")])
        self.kustomize_points.append((docs, measured[KUSTOMIZE].median))

    def kustomize_fit(self) -> tuple[float, float]:
        """Least squares of log t = log a + k·log n over every kustomize run so far: (a, k)."""
        xs = [math.log(docs) for docs, _ in self.kustomize_points]
        ys = [math.log(seconds) for _, seconds in self.kustomize_points]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        exponent = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
        return math.exp(mean_y - exponent * mean_x), exponent

    def kustomize_estimate(self, docs: int) -> Measurement | None:
        """None when kustomize fits the budget at this size; else t = a·n^k fitted on every run below it.

        Before estimating, kustomize runs at twice the largest size run so far while that is
        predicted within the budget: points near the estimate make it less of a guess."""
        if self.kustomize_version is None:
            return None
        if not self.kustomize_points:  # two small runs below the first size, to fit the growth
            for probe in (max(docs // 4, 1), max(docs // 2, 2)):
                self.kustomize_probe(probe)
        while True:
            scale, exponent = self.kustomize_fit()
            if scale * docs**exponent <= self.args.kustomize_budget:
                return None
            larger = 2 * max(size for size, _ in self.kustomize_points)
            if larger >= docs or scale * larger**exponent > self.args.kustomize_budget:
                break
            self.kustomize_probe(larger)
        predicted = scale * docs**exponent
        fitted = ", ".join(f"{size:,}" for size, _ in sorted(self.kustomize_points))
        note = (f"kustomize not run at {docs:,} docs (predicted {predicted:.0f} s > budget "
                f"{self.args.kustomize_budget:.0f} s): estimated as t ∝ n^{exponent:.2f}, "
                f"fitted on runs at {fitted} docs")
        self.notes.append(note)
        estimate = Measurement(KUSTOMIZE, [predicted], estimated=True, note=note)
        self.record(f"{docs} docs", estimate)
        return estimate

    def speed_rows(self, what: str, results: dict[str, Measurement], parse_target: report.Target | None,
                   kustomize_target: report.Target | None) -> None:
        targets = {PARSE: parse_target, "cat": None, KUSTOMIZE: kustomize_target}
        for label, target in targets.items():
            if label in results:
                self.rows.append(report.speed_row(what, results[OURS], results[label], target))

    def scaling(self, startup: Measurement, ours: dict[int, Measurement]) -> None:
        """CPU time per document with start-up taken out: flat when the work is linear in the stream.

        CPU time, not wall time: the sizes are measured minutes apart, and other work on the
        machine in between would show up as non-linearity."""
        sizes = sorted(ours)
        per_doc = {docs: max(ours[docs].median_cpu - startup.median_cpu, 0.0) / docs for docs in sizes}
        for docs in sizes:
            self.results.setdefault("scaling", {})[str(docs)] = {"per_doc_s": per_doc[docs]}
        if len(sizes) < 2:
            return
        figures = " / ".join(f"{per_doc[docs] * 1e6:.0f}" for docs in sizes)
        what = "CPU time per doc, " + " / ".join(f"{docs:,}" for docs in sizes) + " docs"
        if per_doc[sizes[0]] == 0:  # the smallest run was within start-up noise
            self.rows.append(Row(what, f"{figures} µs", "", "", "n/a"))
        else:
            ratio = per_doc[sizes[-1]] / per_doc[sizes[0]]
            self.rows.append(Row(what, f"{figures} µs", "", "", f"{ratio:.2f}× ({sizes[-1]:,} vs {sizes[0]:,})",
                                 report.SCALING, ratio))
        self.notes.append("CPU time per doc = (median CPU time of a run − that of start-up) / documents")

    def memory(self, ours: dict[int, Measurement]) -> None:
        sizes = sorted(ours)
        if len(sizes) < 2:
            return
        small, large = sizes[-2], sizes[-1]
        ratio = ours[large].median_rss_kib / ours[small].median_rss_kib
        figures = f"{ours[small].median_rss_kib / 1024:.0f} / {ours[large].median_rss_kib / 1024:.0f} MiB"
        target = report.MEMORY if large == 10 * small else None  # the 10k vs 100k
        self.rows.append(Row(f"peak RSS, {small:,} / {large:,} docs", figures, "", "", f"{ratio:.2f}×",
                             target, ratio))

    def run(self) -> str:
        self.work.mkdir(parents=True, exist_ok=True)
        for path in (self.args.bundle, self.args.small_chart):
            if not path.is_file():
                raise BenchError(f"{path} not found; set SIDECAR_POLICY_SHARED_DATA or pass the path")
        if not Path(self.tool[0]).exists() and not any(
                (Path(entry) / self.tool[0]).exists() for entry in os.environ.get("PATH", "").split(os.pathsep)):
            raise BenchError(f"{self.tool[0]} not found: run ./dev test once (it installs it), or use ./dev bench")
        if self.kustomize_version is None and not self.args.no_kustomize:
            self.notes.append("kubectl not found: kustomize left out")
        startup = self.startup()

        bundle_docs = count_documents(self.args.bundle)
        what = describe(self.args.bundle, "bundle: " + self.args.bundle.stem, bundle_docs)
        results = self.throughput(what, self.args.bundle, "bundle", full_parse=True)
        self.speed_rows(what, results, report.BUNDLE_VS_PARSE, report.BUNDLE_VS_KUSTOMIZE)

        ours: dict[int, Measurement] = {}
        for docs in self.args.sizes:
            stream = self.work / f"stream-{docs}.yaml"
            self.progress(f"generating {stream.name}")
            streams.write_stream(stream, docs)
            what = describe(stream, "stream", docs)
            results = self.throughput(what, stream, f"stream-{docs}", docs <= self.args.full_parse_limit,
                                      self.kustomize_estimate(docs))
            ours[docs] = results[OURS]
            if KUSTOMIZE in results and not results[KUSTOMIZE].estimated:
                self.kustomize_points.append((docs, results[KUSTOMIZE].median))
            tenk = docs == STREAM_10K
            self.speed_rows(what, results, report.STREAM_10K_VS_PARSE if tenk else None,
                            report.STREAM_10K_VS_KUSTOMIZE if tenk else None)
        self.scaling(startup, ours)
        self.memory(ours)
        pods.run(self, self.args.pods_scales)
        for docs in self.args.sizes:
            if docs > self.args.full_parse_limit:
                self.notes.append(f"PyYAML full parse skipped at {docs:,} docs (above --full-parse-limit; no target)")
        (self.work / "results.json").write_text(json.dumps(self.results, indent=1))
        return report.render(self.header(), self.rows, self.notes)

    def header(self) -> list[str]:
        versions = subprocess.run([self.python, "-c", "import sys, yaml; print(sys.version.split()[0], "
                                   "yaml.__version__, yaml.__with_libyaml__)"],
                                  capture_output=True, text=True, check=True).stdout.split()
        libyaml = "with libyaml" if versions[2] == "True" else "WITHOUT libyaml"
        return [f"sidecar-policy benchmark: {os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
                f"Python {versions[0]}, PyYAML {versions[1]} {libyaml}, kustomize {self.kustomize_version or '-'}",
                f"medians of {self.args.repeat} runs ({self.args.repeat * SHORT_RUN_REPEAT_FACTOR} for runs under "
                f"{SHORT_RUN_SECONDS:.0f} s, {SLOW_RUN_REPEAT} for runs over {SLOW_RUN_SECONDS:.0f} s); "
                f"load average before the run {self.load_before:.1f}, after {os.getloadavg()[0]:.1f} (other work on "
                f"the machine skews wall times, not instruction counts); inputs in {self.work}/",
                f"measured: {' '.join(self.tool)}"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Installed packages have their bytecode cached; measure that, not a compile on every start.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        if args.tool is None:
            print(f"bench: building the wheel and installing it into {args.work / 'venv'}", file=sys.stderr, flush=True)
            args.tool = str(installed.install(args.work) / "sidecar-policy")
        table = Bench(args).run()
    except (BenchError, OSError, subprocess.CalledProcessError) as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
