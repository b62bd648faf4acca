"""Predicting which of a mutant's tests fail, before running them (issue 18, item 5).

A mutant (`codewm.repo.mutate`, verified by `codewm.repo.verify`) breaks one function of a
real project; verification ran the tests of its module and recorded which failed. The
predictors here say which would fail without running any test:

- `cases`: the mutants file and the calls file (`codewm.repo.calls_plugin`, version 2) read as
  `MutantCase`s (the tests run, the ones that failed) and a `ReachIndex` (which test made which
  recorded call);
- `baselines`: `module` (every test run fails), `name` (the tests that mention the function),
  `calls` (the tests that reach the function on the original code);
- `world`: the call-level world model: each test's recorded literal calls, run (oracle) or
  predicted (a model) on the original and the mutated program; a test fails when a result differs;
- `metrics`: per-test accuracy, precision, recall and F1 of the failing set, exact-set match,
  AUROC of a score.

docs/repo.md, "Predicting which tests a mutant fails", has the numbers.
"""
