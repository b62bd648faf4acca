"""Mine real functions from a folder of Python source, with inputs that trace cleanly.

    source = MinedSource(modules=["textwrap", "colorsys"])   # default folder: the stdlib
    for case in source.cases(): ...                           # ProgramCase(origin="miner")
    print(mine(path, max_functions=40).to_table())           # what was found, kept, rejected

docs/programs.md, section "The miner", says what is mined, what the program of a function
is, where the inputs come from and when a call is kept. The package, in the order a function
goes through it: discovery.py (modules, eligible functions, the program text), values.py
(argument types and values, canonical literals), calls.py (candidate calls from every input
source), source.py (running and keeping calls: `mine`, `MinedSource`) and report.py
(`MiningReport` and its table).
"""

from codewm.programs.miner.calls import MAX_CALL_CHARS, build_call_site_index, candidate_calls
from codewm.programs.miner.discovery import SKIP_DIRS, build_program, default_path, discover_modules, eligible, parse_module
from codewm.programs.miner.report import REASONS, FunctionResult, MiningReport, ModuleReport
from codewm.programs.miner.source import DEFAULT_LIMITS, INPUT_SOURCES, MinedSource, mine
from codewm.programs.miner.values import (
    annotation_spec, guessed_spec, hypothesis_available, hypothesis_draws, hypothesis_strategy, literal_text, random_value,
)

__all__ = [
    "DEFAULT_LIMITS", "INPUT_SOURCES", "MAX_CALL_CHARS", "REASONS", "SKIP_DIRS", "FunctionResult", "MinedSource",
    "MiningReport", "ModuleReport", "annotation_spec", "build_call_site_index", "build_program", "candidate_calls",
    "default_path", "discover_modules", "eligible", "guessed_spec", "hypothesis_available", "hypothesis_draws",
    "hypothesis_strategy", "literal_text", "mine", "parse_module", "random_value",
]
