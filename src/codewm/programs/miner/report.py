"""The miner's report: what happened to each module and function, and a table of the counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from codewm.programs.base import ProgramCase
from codewm.trace.sandbox import STATUSES

# Per-call reasons besides the sandbox statuses, and the order ties are broken in.
REASONS = ("touched", "nondeterministic", *[s for s in STATUSES if s != "ok"], "not_traced", "no_inputs")


@dataclass
class FunctionResult:
    """What happened to one function."""

    module: str
    function: str
    candidates: list[tuple[str, str]] = field(default_factory=list)  # (call, input_from) in order
    outcomes: list[str] = field(default_factory=list)  # per candidate: "kept" or the reason
    cases: list[ProgramCase] = field(default_factory=list)
    reason: str | None = None  # why no call was kept (None when some was)
    errors: list[str | None] = field(default_factory=list)  # per candidate: the first run's error, if any

    @property
    def kept(self) -> bool:
        return bool(self.cases)


@dataclass
class ModuleReport:
    """The counts of one module."""

    module: str
    path: str
    found: int = 0  # eligible top-level functions
    with_inputs: int = 0  # ... that had at least one candidate call
    kept_functions: int = 0  # ... that kept at least one call
    kept_calls: int = 0
    rejected: Counter = field(default_factory=Counter)  # function-level reason -> functions
    outcomes: Counter = field(default_factory=Counter)  # call-level outcome -> calls
    skipped: Counter = field(default_factory=Counter)  # why top-level functions were not considered


@dataclass
class MiningReport:
    """Everything a mining run found: per module, per function, and the cases kept."""

    root: str
    modules: list[ModuleReport] = field(default_factory=list)
    functions: list[FunctionResult] = field(default_factory=list)
    parse_errors: dict[str, str] = field(default_factory=dict)  # module -> error
    cases: list[ProgramCase] = field(default_factory=list)
    hypothesis: bool = False  # whether the hypothesis source was available
    isolation: str = ""  # the sandbox's isolation mode

    def function(self, module: str, name: str) -> FunctionResult:
        for result in self.functions:
            if result.module == module and result.function == name:
                return result
        raise KeyError(f"{module}.{name}")

    def module(self, name: str) -> ModuleReport:
        for report in self.modules:
            if report.module == name:
                return report
        raise KeyError(name)

    @property
    def totals(self) -> dict[str, Any]:
        rejected: Counter = Counter()
        for report in self.modules:
            rejected.update(report.rejected)
        return {
            "modules": len(self.modules),
            "found": sum(r.found for r in self.modules),
            "with_inputs": sum(r.with_inputs for r in self.modules),
            "kept_functions": sum(r.kept_functions for r in self.modules),
            "kept_calls": sum(r.kept_calls for r in self.modules),
            "rejected": rejected,
        }

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data: totals, per module, per function (cases left out)."""
        totals = dict(self.totals, rejected=dict(self.totals["rejected"]))
        return {
            "root": self.root,
            "isolation": self.isolation,
            "hypothesis": self.hypothesis,
            "totals": totals,
            "modules": [
                {
                    "module": r.module,
                    "path": r.path,
                    "found": r.found,
                    "with_inputs": r.with_inputs,
                    "kept_functions": r.kept_functions,
                    "kept_calls": r.kept_calls,
                    "rejected": dict(r.rejected),
                    "outcomes": dict(r.outcomes),
                    "skipped": dict(r.skipped),
                }
                for r in self.modules
            ],
            "parse_errors": dict(self.parse_errors),
            "functions": [
                {"module": f.module, "function": f.function, "kept_calls": len(f.cases), "reason": f.reason, "outcomes": list(f.outcomes)}
                for f in self.functions
            ],
        }

    def to_table(self) -> str:
        """Per-module counts and totals, as plain text."""
        rows = [r for r in self.modules if r.found]
        header = ("module", "found", "inputs", "traced", "calls", "rejected (functions)")
        body = [
            (r.module, str(r.found), str(r.with_inputs), str(r.kept_functions), str(r.kept_calls), _counts(r.rejected))
            for r in rows
        ]
        totals = self.totals
        footer = ("TOTAL", str(totals["found"]), str(totals["with_inputs"]), str(totals["kept_functions"]), str(totals["kept_calls"]), _counts(totals["rejected"]))
        widths = [max(len(row[i]) for row in [header, *body, footer]) for i in range(5)]

        def line(row: tuple[str, ...]) -> str:
            cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, 5)]
            return "  ".join(cells + [row[5]]).rstrip()

        rule = "-" * (sum(widths) + 2 * 5 + len(header[5]))
        out = [line(header), rule, *map(line, body), rule, line(footer)]
        quiet = len(self.modules) - len(rows)
        notes = [f"{len(self.modules) + len(self.parse_errors)} modules scanned under {self.root}"]
        if quiet:
            notes.append(f"{quiet} without eligible top-level functions (not listed)")
        if self.parse_errors:
            notes.append(f"{len(self.parse_errors)} failed to parse: {', '.join(sorted(self.parse_errors))}")
        out.append("; ".join(notes))
        skipped: Counter = Counter()
        for report in self.modules:
            skipped.update(report.skipped)
        if skipped:
            out.append("top-level functions skipped: " + " ".join(f"{k}={skipped[k]}" for k in sorted(skipped)))
        out.append("found = eligible functions; inputs = with candidate calls; traced = with kept calls; calls = kept calls")
        if not self.hypothesis:
            out.append("(hypothesis is not installed: no 'hypothesis' inputs)")
        return "\n".join(out) + "\n"


def _counts(counter: Counter) -> str:
    """`key=count` pairs of a counter, in reason order."""
    return " ".join(f"{key}={counter[key]}" for key in sorted(counter, key=reason_order) if counter[key])


def reason_order(reason: str) -> tuple[int, str]:
    """A sort key: the order of REASONS, unknown reasons last by name."""
    return (REASONS.index(reason) if reason in REASONS else len(REASONS), reason)
