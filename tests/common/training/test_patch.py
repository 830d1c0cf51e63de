"""A run from a tree with uncommitted changes keeps them: the patch applies to a clean checkout."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from common.results import _commit, _commits
from common.training import records

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd, *cmd):
    return subprocess.run(["git", *cmd], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    _git(root, "config", "user.email", "t@example.org")
    _git(root, "config", "user.name", "t")
    (root / "a.py").write_text("x = 1\n")
    (root / ".gitignore").write_text("runs/\n")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "one")
    return root


def test_clean_tree_has_no_patch(repo, tmp_path):
    assert records.save_patch(tmp_path, repo) is None


def test_patch_holds_tracked_changes_and_untracked_files_and_applies_to_the_commit(repo, tmp_path, monkeypatch):
    (repo / "a.py").write_text("x = 2\n")
    (repo / "new_module.py").write_text("y = 3\n")
    (repo / "runs").mkdir()
    (repo / "runs" / "ignored.txt").write_text("ignored\n")
    monkeypatch.setattr(records, "PATCH_FILE_LIMIT", 100)
    (repo / "big.bin").write_bytes(b"0" * 200)
    (repo / "results").mkdir()
    (repo / "results" / "table.md").write_text("generated\n")      # results/: not code, not patched
    index_before = _git(repo, "status", "--porcelain")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    info = records.save_patch(run_dir, repo)
    assert _git(repo, "status", "--porcelain") == index_before, "the real index was touched"
    assert sorted(info["files"]) == ["a.py", "new_module.py"] and info["left_out"] == ["big.bin"]
    commit = _git(repo, "rev-parse", "HEAD").strip()
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(repo), str(clone))
    _git(clone, "checkout", "-q", commit)
    _git(clone, "apply", str(run_dir / "source.patch"))
    assert (clone / "a.py").read_text() == "x = 2\n" and (clone / "new_module.py").read_text() == "y = 3\n"
    assert not (clone / "big.bin").exists() and not (clone / "runs").exists()


def test_tables_mark_the_patch_and_list_every_commit_of_a_fold_group():
    clean = {"git": {"commit": "a" * 40, "dirty": False}}
    patched = {"git": {"commit": "b" * 40, "dirty": True, "patch": {"file": "source.patch"}}}
    lost = {"git": {"commit": "c" * 40, "dirty": True}}
    assert _commit(clean) == "a" * 10
    assert _commit(patched) == "b" * 10 + "+patch (source.patch in the run folder)"
    assert _commit(lost).endswith("+uncommitted (not stored)")
    group = [{"config": {"provenance": p}} for p in (clean, patched, clean)]
    assert _commits(group) == f"{'a' * 10}, {'b' * 10}+patch (source.patch in the run folder)"
    json.dumps(group)


def test_one_process_records_the_tree_it_started_from(repo, tmp_path):
    """Edits made while a process runs (the folds of --fold all) do not change what its later runs
    record: the code that runs is what was imported at the start."""
    (repo / "a.py").write_text("x = 2\n")
    first = records.git_info(repo)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    info_a = records.save_patch(a, repo)
    (repo / "a.py").write_text("x = 3\n")
    _git(repo, "commit", "-qam", "two")
    assert records.git_info(repo) == first and records.git_info(repo, fresh=True)["commit"] != first["commit"]
    assert records.save_patch(b, repo) == info_a
    assert (a / "source.patch").read_bytes() == (b / "source.patch").read_bytes()


def test_code_part_drops_the_sections_of_generated_folders():
    patch = (b"diff --git a/a.py b/a.py\n-x\n+y\n"
             b"diff --git a/results/t.md b/results/t.md\n-old\n+new\n"
             b"diff --git a/b.py b/b.py\n+z\n")
    assert records.code_part(patch) == b"diff --git a/a.py b/a.py\n-x\n+y\ndiff --git a/b.py b/b.py\n+z\n"

