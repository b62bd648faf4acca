"""Executable repositories: real Python projects and their own test suites, run in the sandbox.

From a project (a local checkout, or `NAME==VERSION` fetched as a source distribution) codewm
makes the data CWM learned from besides single functions: traces of the project's own
functions as its tests call them, and mutate-and-verify tasks (a function broken on purpose,
with the tests that catch it). docs/repo.md tells how.
"""
