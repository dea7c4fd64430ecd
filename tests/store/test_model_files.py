"""Model files are signed with the workspace secret and refused, unopened, when they are not."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import joblib  # type: ignore[import-untyped]
import pytest

from audience.errors import ModelMissingError, ModelSignatureError
from audience.store.model_files import MAGIC, ModelFiles

SECRET = bytes(range(32))


class _Touches:
    """Unpickling this creates the folder ``path``: the proof that a file was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.path),))


@pytest.fixture
def files(tmp_path: Path) -> ModelFiles:
    return ModelFiles(tmp_path / "models", SECRET)


def test_a_signed_file_loads_back(files: ModelFiles) -> None:
    files.save("run-1", {"centres": [1.0, 2.0]})
    assert files.read_bytes("run-1").startswith(MAGIC)
    assert files.load("run-1") == {"centres": [1.0, 2.0]}
    assert files.run_ids() == ["run-1"]


def test_one_changed_byte_is_refused(files: ModelFiles) -> None:
    path = files.save("run-1", {"centres": [1.0, 2.0]})
    content = bytearray(path.read_bytes())
    content[-3] ^= 0x01
    path.write_bytes(bytes(content))
    with pytest.raises(ModelSignatureError, match=r"run-1\.joblib does not carry"):
        files.load("run-1")


def test_a_file_signed_by_another_workspace_is_refused(files: ModelFiles, tmp_path: Path) -> None:
    other = ModelFiles(tmp_path / "other", bytes(32))
    other.save("run-1", [1, 2, 3])
    files.write_bytes("run-1", other.read_bytes("run-1"))
    with pytest.raises(ModelSignatureError, match="audience segment"):
        files.load("run-1")


def test_an_unsigned_file_is_refused_with_the_fix(files: ModelFiles) -> None:
    files.folder.mkdir(parents=True)
    joblib.dump({"centres": [1.0]}, files.path("old"))  # as runs were stored before signing
    with pytest.raises(ModelSignatureError, match=r"is not signed.*`audience segment`"):
        files.load("old")


def test_a_missing_file_is_model_missing(files: ModelFiles) -> None:
    with pytest.raises(ModelMissingError, match="does not exist"):
        files.load("nope")


@pytest.mark.parametrize("signed", [False, True])
def test_a_tampered_file_is_never_unpickled(
    files: ModelFiles, tmp_path: Path, signed: bool
) -> None:
    """The payload would make a folder when unpickled; refusing must come before that."""
    witness = tmp_path / "unpickled"
    evil = pickle.dumps(_Touches(witness))
    files.save("run-1", {"fine": True})
    content = files.read_bytes("run-1")
    header = content[: content.index(b"\n") + 1]
    files.write_bytes("run-1", header + evil if signed else evil)
    with pytest.raises(ModelSignatureError):
        files.load("run-1")
    assert not witness.exists()
    pickle.loads(evil)  # the payload does what the test says, so its absence above means something
    assert witness.exists()


def test_saving_replaces_the_file_in_one_rename(files: ModelFiles) -> None:
    files.save("run-1", [1])
    before = os.stat(files.path("run-1")).st_ino
    files.save("run-1", [2])
    assert os.stat(files.path("run-1")).st_ino != before
    assert files.load("run-1") == [2]
    assert [p.name for p in files.folder.iterdir()] == ["run-1.joblib"]  # no temporary left
