"""A Python project with a pytest suite: a local checkout, or a source distribution fetched
by name from the package index.

    project = resolve_project("parse==1.22.4", cache_dir)   # or a folder path
    project.root, project.test_paths, project.source_files()

A fetched project is unpacked once into `cache_dir/NAME-VERSION/` and reused after; the
folder appears in one rename, so a fetch that was killed leaves nothing that looks complete.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# Every suite gets these: the project's own `addopts` often asks for plugins (coverage,
# xdist, ...) that are not installed where it runs, and a cache folder is state between runs.
DEFAULT_PYTEST_OPTIONS = ("-o", "addopts=", "-p", "no:cacheprovider")
TEST_DIRS = ("tests", "test", "testing")
# Files that belong to the project but are not its source: build scripts, test set-up, docs.
NOT_SOURCE_NAMES = {"setup.py", "conftest.py", "noxfile.py", "tasks.py", "fabfile.py"}
NOT_SOURCE_DIRS = {"docs", "doc", "examples", "example", "benchmarks", "bench", "build", "dist", "misc", "tools", "scripts"}
SKIPPED_DIRS = {".git", ".hg", ".svn", "__pycache__", ".tox", ".nox", ".venv", "venv", ".pytest_cache", ".mypy_cache", "node_modules"}
SPEC_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9][A-Za-z0-9.+!_-]*)$")
# An unpacked source distribution larger than this is refused (a decompression bomb).
MAX_UNPACKED_BYTES = 512 << 20
PIP_TIMEOUT = 600


class ProjectError(ValueError):
    """A project could not be found, fetched or unpacked; the message says what and where."""


@dataclass(frozen=True)
class Project:
    """A project folder and how to run its test suite there.

    `test_paths` are relative to `root` (what pytest is given when no test is named);
    `pytest_options` go before them on every run (see DEFAULT_PYTEST_OPTIONS);
    `python_path` are folders, relative to `root`, put on PYTHONPATH (a `src/` layout)."""

    root: Path
    name: str
    version: str = ""
    test_paths: tuple[str, ...] = ()
    pytest_options: tuple[str, ...] = DEFAULT_PYTEST_OPTIONS
    python_path: tuple[str, ...] = field(default=())

    def source_files(self) -> list[str]:
        """The project's own Python files, relative to root and sorted: not its tests, not
        build scripts, conftest.py or documentation."""
        return sorted(path for path in python_files(self.root) if is_source_file(path))

    def test_files(self) -> list[str]:
        return sorted(path for path in python_files(self.root) if is_test_file(path))


def python_files(root: Path) -> list[str]:
    """Every .py file under root (relative paths with '/'), skipping VCS, caches and
    virtual environments; symbolic links are not followed."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in files:
            if name.endswith(".py"):
                found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    return found


def is_test_file(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return any(part in TEST_DIRS for part in parts[:-1]) or name.startswith("test_") or name.endswith("_test.py") or name == "tests.py"


def is_source_file(path: str) -> bool:
    parts = path.split("/")
    if parts[-1] in NOT_SOURCE_NAMES or is_test_file(path):
        return False
    return not any(part in NOT_SOURCE_DIRS for part in parts[:-1])


def find_test_paths(root: Path) -> tuple[str, ...]:
    """Where a project's tests are: its test folders if it has any, else its test_*.py files
    (those at the top first, then any below, as pytest would collect them)."""
    folders = tuple(name for name in TEST_DIRS if (root / name).is_dir())
    if folders:
        return folders
    return tuple(sorted(path for path in python_files(root) if path.split("/")[-1].startswith("test_") or path.endswith("_test.py")))


def local_project(directory: str | Path, name: str | None = None, version: str = "") -> Project:
    """A project from a local folder with a pytest suite. Raises ProjectError if the folder
    does not exist or has no tests."""
    root = Path(directory).resolve()
    if not root.is_dir():
        raise ProjectError(f"{directory}: no such project folder")
    tests = find_test_paths(root)
    if not tests:
        raise ProjectError(f"{root}: no tests found (no tests/ or test/ folder, no test_*.py file)")
    python_path = ("src",) if (root / "src").is_dir() else ()
    return Project(root=root, name=name or root.name, version=version, test_paths=tests, python_path=python_path)


def parse_spec(spec: str) -> tuple[str, str] | None:
    """(name, version) of a `NAME==VERSION` spec, or None if spec is not one."""
    match = SPEC_RE.match(spec.strip())
    return (match.group(1), match.group(2)) if match else None


def resolve_project(spec: str | Path, cache_dir: str | Path | None = None) -> Project:
    """A project from a folder path or a `NAME==VERSION` spec (fetched into `cache_dir`)."""
    text = str(spec)
    if os.path.isdir(text):
        return local_project(text)
    pinned = parse_spec(text)
    if pinned is not None:
        return fetch_project(text, cache_dir or default_cache_dir())
    if os.path.exists(text):
        raise ProjectError(f"{text}: is a file, not a project folder (give a folder with a pytest suite, or NAME==VERSION)")
    raise ProjectError(f"{text!r}: neither an existing folder nor a pinned package NAME==VERSION (e.g. parse==1.22.4)")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "codewm" / "projects"


def fetch_project(spec: str, cache_dir: str | Path, download: Callable[[str, str, Path], Path] | None = None) -> Project:
    """Download the source distribution of `NAME==VERSION` and unpack it into
    `cache_dir/NAME-VERSION/` (once: a later call reuses the folder).

    `download(name, version, folder) -> archive` fetches it (default: `pip_download`)."""
    pinned = parse_spec(spec)
    if pinned is None:
        raise ProjectError(f"{spec!r}: not a pinned package NAME==VERSION (e.g. parse==1.22.4)")
    name, version = pinned
    cache = Path(cache_dir)
    target = cache / f"{name}-{version}"
    if not target.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".fetch-{name}-{version}-", dir=cache))
        try:
            archive = (download or pip_download)(name, version, staging / "download")
            unpack_sdist(archive, staging / "unpacked")
            _publish(_single_top(staging / "unpacked", archive), target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return local_project(target, name=name, version=version)


def pip_download(name: str, version: str, into: Path) -> Path:
    """`pip download --no-binary :all: --no-deps NAME==VERSION` into `into`; the archive.

    pip prepares the distribution's metadata, so it runs the project's build backend on
    this machine, as any `pip download` of a source distribution does."""
    command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "--disable-pip-version-check", f"{name}=={version}", "-d", str(into)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise ProjectError(f"{name}=={version}: pip download did not finish in {PIP_TIMEOUT} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise ProjectError(f"{name}=={version}: pip download failed (exit {done.returncode}):\n{tail}")
    archives = sorted(p for p in into.iterdir() if p.name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")))
    if len(archives) != 1:
        raise ProjectError(f"{name}=={version}: expected one source archive from pip in {into}, found {[p.name for p in into.iterdir()]}")
    return archives[0]


def unpack_sdist(archive: Path, into: Path) -> None:
    """Unpack an sdist into `into`, refusing any member that would land outside it, links
    out of it, devices, and archives that unpack to more than MAX_UNPACKED_BYTES."""
    into.mkdir()
    try:
        if archive.name.endswith(".zip"):
            _unpack_zip(archive, into)
        else:
            with tarfile.open(archive) as tar:
                total = sum(member.size for member in tar.getmembers() if member.isfile())
                _check_size(archive, total)
                # "data": no absolute paths, no member or link leaving the folder, no devices,
                # no setuid bits (PEP 706); it raises on the first offending member.
                tar.extractall(into, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ProjectError(f"{archive.name}: cannot be unpacked safely: {exc}") from None


def _unpack_zip(archive: Path, into: Path) -> None:
    root = os.path.realpath(into)
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        _check_size(archive, sum(member.file_size for member in members))
        for member in members:
            mode = member.external_attr >> 16
            if (mode & 0o170000) not in (0, 0o100000, 0o040000):  # a link or a device
                raise ProjectError(f"{archive.name}: member {member.filename!r} is not a plain file or folder")
            destination = os.path.realpath(os.path.join(root, member.filename))
            if member.filename.startswith("/") or not (destination == root or destination.startswith(root + os.sep)):
                raise ProjectError(f"{archive.name}: member {member.filename!r} would land outside the project folder")
        zipped.extractall(into)


def _check_size(archive: Path, total: int) -> None:
    if total > MAX_UNPACKED_BYTES:
        raise ProjectError(f"{archive.name}: unpacks to {total >> 20} MiB, more than the {MAX_UNPACKED_BYTES >> 20} MiB allowed")


def _single_top(unpacked: Path, archive: Path) -> Path:
    entries = list(unpacked.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    raise ProjectError(f"{archive.name}: a source distribution holds one top folder, this one holds {sorted(e.name for e in entries)[:5]}")


def _publish(folder: Path, target: Path) -> None:
    """Move the unpacked folder to `target` in one rename; a concurrent fetch that got
    there first wins, and this copy is dropped."""
    try:
        os.rename(folder, target)
    except OSError:
        if not target.is_dir():
            raise
