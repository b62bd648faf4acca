"""The host's side of an agent's file actions: paths confined to the workspace's copy, and
the copy's files as a snapshot (for the diff against the original, and a digest of them).

A path is relative to the copy's root, or absolute under `/project` (what commands in the
sandbox see). `..` is refused outright; the rest is resolved with every link followed and
must stay inside the copy, and files are then opened without following a link, so a link a
command planted (`ln -s /etc/passwd x`) never leads the host outside. No command runs while
the host touches a file (every sandboxed run ends with all its processes), so nothing can
swap a path between the check and the open.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
from pathlib import Path

from codewm.repo.project import SKIPPED_DIRS
from codewm.repo.workspace import PROJECT_MOUNT

MAX_READ_BYTES = 4 << 20  # of a file the agent views or edits
MAX_SNAPSHOT_FILE_BYTES = 1 << 20  # larger files enter the diff by their digest only


class PathError(ValueError):
    """A path outside the workspace, or not a file that can be read or written there."""


def confine(root: Path, path: str) -> Path:
    """The real path of `path` inside `root` (the workspace's copy); PathError if it is not."""
    if not path or "\0" in path:
        raise PathError(f"{path!r:.200}: not a path")
    relative = path
    if path.startswith("/"):
        if path != PROJECT_MOUNT and not path.startswith(PROJECT_MOUNT + "/"):
            raise PathError(f"{path!r:.200}: outside the workspace (absolute paths must be under {PROJECT_MOUNT})")
        relative = path[len(PROJECT_MOUNT) :].lstrip("/") or "."
    if ".." in Path(relative).parts:
        raise PathError(f"{path!r:.200}: '..' is not allowed in a path")
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(real_root / relative))
    if target != real_root and real_root not in target.parents:
        raise PathError(f"{path!r:.200}: leads outside the workspace")
    return target


def read_text(target: Path, shown: str) -> str:
    """A regular file's text (opened without following a link, at most MAX_READ_BYTES)."""
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PathError(f"{shown}: no such file") from None
    except OSError as exc:
        raise PathError(f"{shown}: cannot be opened: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PathError(f"{shown}: not a regular file")
        if info.st_size > MAX_READ_BYTES:
            raise PathError(f"{shown}: {info.st_size} bytes, more than the {MAX_READ_BYTES} an agent may view or edit")
        data = os.read(fd, MAX_READ_BYTES + 1)
    finally:
        os.close(fd)
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise PathError(f"{shown}: not UTF-8 text") from None


def write_text(target: Path, text: str, shown: str, uid: int | None, new: bool) -> None:
    """Write `text` to `target` (a confined path): a new file (and its folders) if `new`, else an
    existing regular file, rewritten in place (its owner and mode stay)."""
    if new:
        missing = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
        try:
            for folder in reversed(missing):
                os.mkdir(folder, 0o755)
                if uid is not None:
                    os.chown(folder, uid, uid)
        except OSError as exc:
            raise PathError(f"{shown}: its folder cannot be made: {exc.strerror}") from None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    else:
        flags = os.O_WRONLY | os.O_TRUNC
    try:
        fd = os.open(target, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        raise PathError(f"{shown}: already exists (edit it instead)") from None
    except OSError as exc:
        raise PathError(f"{shown}: cannot be written: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PathError(f"{shown}: not a regular file")
        if new and uid is not None:
            os.fchown(fd, uid, uid)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> content), as the diff sees it: regular files
    by content (a large one by its digest), links by their target, other kinds by their
    kind. Links are never followed; VCS folders and caches are left out (as in the copy)."""
    files: dict[str, bytes] = {}
    for folder, dirs, names in os.walk(root):
        # os.walk lists a link to a folder among the folders: it is a file of the diff here.
        linked = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and d not in linked)
        for name in sorted(names + linked):
            path = os.path.join(folder, name)
            files[os.path.relpath(path, root).replace(os.sep, "/")] = _content(path)
    return dict(sorted(files.items()))


def _content(path: str) -> bytes:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return b"<symbolic link to " + os.fsencode(os.readlink(path)) + b">\n"
    if not stat.S_ISREG(info.st_mode):
        return b"<not a regular file>\n"
    digest = hashlib.sha256()
    with open(path, "rb", opener=lambda p, f: os.open(p, f | os.O_NOFOLLOW | os.O_NONBLOCK)) as handle:
        if info.st_size <= MAX_SNAPSHOT_FILE_BYTES:
            return handle.read(MAX_SNAPSHOT_FILE_BYTES + 1)
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return f"<{info.st_size} bytes, sha256 {digest.hexdigest()}>\n".encode()


def tree_digest(files: dict[str, bytes]) -> str:
    """sha256 over every (path, content) of a snapshot: equal digests, byte-identical files."""
    digest = hashlib.sha256()
    for path, content in sorted(files.items()):
        digest.update(f"{len(path)}:{path}:{len(content)}:".encode())
        digest.update(content)
    return digest.hexdigest()


def unified_diff(before: dict[str, bytes], after: dict[str, bytes]) -> str:
    """A unified diff (git's a/ b/ names) from snapshot `before` to `after`, file by file in
    path order; a file that is not UTF-8 text shows as 'Binary files ... differ'."""
    parts = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        try:
            old_lines = [] if old is None else old.decode().splitlines(keepends=True)
            new_lines = [] if new is None else new.decode().splitlines(keepends=True)
        except UnicodeDecodeError:
            parts.append(f"Binary files a/{path} and b/{path} differ\n")
            continue
        lines = difflib.unified_diff(old_lines, new_lines, "/dev/null" if old is None else f"a/{path}", "/dev/null" if new is None else f"b/{path}")
        parts.extend(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    return "".join(parts)
