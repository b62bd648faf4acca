"""Projects: finding a suite's tests and the project's own source, resolving a spec, and
fetching a source distribution safely (no member lands outside the cache, a failed fetch
leaves nothing that looks complete, a second fetch downloads nothing)."""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from codewm.repo.project import DEFAULT_PYTEST_OPTIONS, ProjectError, fetch_project, local_project, parse_spec, resolve_project, unpack_sdist

TINY = Path(__file__).resolve().parents[1] / "data" / "repo" / "tinypkg"


def test_local_project_finds_tests_and_source():
    project = local_project(TINY)
    assert project.name == "tinypkg" and project.test_paths == ("tests",)
    assert project.source_files() == ["tinypkg/__init__.py", "tinypkg/shapes.py", "tinypkg/textutil.py"]  # not setup.py, docs/, tests/
    assert project.test_files() == ["tests/conftest.py", "tests/test_shapes.py", "tests/test_textutil.py"]
    assert project.pytest_options == DEFAULT_PYTEST_OPTIONS and "addopts=" in project.pytest_options


def test_project_without_a_tests_folder_and_src_layout(tmp_path):
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "core.py").write_text("X = 1\n")
    (tmp_path / "test_core.py").write_text("def test_x():\n    pass\n")
    project = local_project(tmp_path)
    assert project.test_paths == ("test_core.py",)
    assert project.python_path == ("src",)
    assert project.source_files() == ["src/pkg/core.py"]


def test_clear_errors_for_what_is_not_a_project(tmp_path):
    with pytest.raises(ProjectError, match="no tests found"):
        local_project(tmp_path)
    with pytest.raises(ProjectError, match="no such project folder"):
        local_project(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ProjectError, match="is a file"):
        resolve_project(str(tmp_path / "file.txt"))
    for spec in ("parse", "parse>=1.0", "parse==", "==1.0", "../x==1"):
        with pytest.raises(ProjectError, match="neither an existing folder nor a pinned package"):
            resolve_project(spec, tmp_path)
    assert parse_spec("parse==1.22.4") == ("parse", "1.22.4")


def _sdist(folder: Path, name: str = "demo-1.0", members: dict[str, bytes] | None = None) -> Path:
    members = members or {f"{name}/demo.py": b"def f():\n    return 1\n", f"{name}/tests/test_demo.py": b"from demo import f\n\ndef test_f():\n    assert f() == 1\n"}
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def test_fetch_unpacks_once_and_reuses_the_cache(tmp_path):
    calls = []

    def download(name, version, into):
        calls.append((name, version))
        return _sdist(into)

    cache = tmp_path / "cache"
    project = fetch_project("demo==1.0", cache, download=download)
    assert project.root == (cache / "demo-1.0").resolve() and project.version == "1.0"
    assert project.source_files() == ["demo.py"] and project.test_paths == ("tests",)
    again = fetch_project("demo==1.0", cache, download=download)
    assert again.root == project.root and calls == [("demo", "1.0")]
    assert sorted(p.name for p in cache.iterdir()) == ["demo-1.0"]  # no staging folder left


def test_a_failed_fetch_leaves_nothing_that_looks_complete(tmp_path):
    def broken(name, version, into):
        archive = _sdist(into)
        archive.write_bytes(archive.read_bytes()[:40])  # cut short, as by a dropped connection
        return archive

    cache = tmp_path / "cache"
    with pytest.raises(ProjectError, match="cannot be unpacked safely"):
        fetch_project("demo==1.0", cache, download=broken)
    assert list(cache.iterdir()) == []


@pytest.mark.parametrize("member", ["../escape.py", "demo-1.0/../../escape.py"])
def test_tar_members_outside_the_folder_are_refused(tmp_path, member):
    archive = _sdist(tmp_path / "dl", members={"demo-1.0/ok.py": b"", member: b"owned"})
    with pytest.raises(ProjectError, match="cannot be unpacked safely"):
        unpack_sdist(archive, tmp_path / "out")
    assert not (tmp_path / "escape.py").exists()


def test_tar_absolute_member_lands_inside_the_folder(tmp_path):
    name = f"/{tmp_path.name}-abs/escape.py"  # a path no one else uses
    archive = _sdist(tmp_path / "dl", members={"demo-1.0/ok.py": b"", name: b"owned"})
    unpack_sdist(archive, tmp_path / "out")
    assert (tmp_path / "out" / name.lstrip("/")).read_bytes() == b"owned" and not Path(name).exists()


def test_tar_link_out_of_the_folder_is_refused(tmp_path):
    archive = tmp_path / "demo-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("demo-1.0/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(ProjectError, match="cannot be unpacked safely"):
        unpack_sdist(archive, tmp_path / "out")


def test_zip_members_are_checked(tmp_path):
    escaping = tmp_path / "escaping.zip"
    with zipfile.ZipFile(escaping, "w") as zipped:
        zipped.writestr("demo-1.0/ok.py", "")
        zipped.writestr("../escape.py", "owned")
    with pytest.raises(ProjectError, match="would land outside"):
        unpack_sdist(escaping, tmp_path / "out1")
    linking = tmp_path / "linking.zip"
    with zipfile.ZipFile(linking, "w") as zipped:
        info = zipfile.ZipInfo("demo-1.0/link")
        info.external_attr = (0o120777 << 16)  # a symbolic link
        zipped.writestr(info, "/etc/passwd")
    with pytest.raises(ProjectError, match="not a plain file"):
        unpack_sdist(linking, tmp_path / "out2")
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zipped:
        zipped.writestr("demo-1.0/demo.py", "X = 1\n")
    unpack_sdist(good, tmp_path / "out3")
    assert (tmp_path / "out3" / "demo-1.0" / "demo.py").read_text() == "X = 1\n"
    assert not (tmp_path / "escape.py").exists()
    shutil.rmtree(tmp_path / "out3")
