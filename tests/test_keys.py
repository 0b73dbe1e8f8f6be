"""The key ring: encrypt with the first key, decrypt with any, refuse what was changed or belongs elsewhere."""

import stat
import threading
from pathlib import Path

import pytest

from conflux.keys import DecryptFailed, KeyRingInvalid, Sealed, UnknownKey, load_key_ring, new_key_line

OLD, NEW = new_key_line("old"), new_key_line("new")


def test_the_first_key_encrypts_and_every_key_decrypts_after_a_rotation() -> None:
    before = load_key_ring(OLD, Path("/nonexistent"))
    sealed = before.encrypt(b"secret", b"cred-1")
    assert sealed.key_id == "old" and b"secret" not in sealed.blob
    rotated = load_key_ring(f"{NEW.replace(' ', ':', 1)},{OLD.replace(' ', ':', 1)}", Path("/nonexistent"))
    assert rotated.decrypt(sealed, b"cred-1") == b"secret"
    assert rotated.encrypt(b"x").key_id == "new"
    with pytest.raises(UnknownKey, match="'old'.*new"):
        load_key_ring(NEW, Path("/nonexistent")).decrypt(sealed, b"cred-1")


def test_changed_data_or_other_associated_data_does_not_decrypt() -> None:
    ring = load_key_ring(OLD, Path("/nonexistent"))
    sealed = ring.encrypt(b"secret", b"cred-1")
    with pytest.raises(DecryptFailed):
        ring.decrypt(sealed, b"cred-2")
    flipped = bytes([sealed.blob[-1] ^ 1])
    with pytest.raises(DecryptFailed):
        ring.decrypt(Sealed(sealed.key_id, sealed.blob[:-1] + flipped), b"cred-1")


@pytest.mark.parametrize("keys, problem", [("", "no encryption key"), ("bad!:AAAA", "the id"),
                                           ("k1:not-base64", "32 bytes"), (f"{OLD},{OLD}", "unique")])
def test_unusable_keys_say_what_is_wrong(keys: str, problem: str, tmp_path: Path) -> None:
    with pytest.raises(KeyRingInvalid, match=problem):
        if keys:
            load_key_ring(keys.replace(" ", ":"), tmp_path / "unused")
        else:
            (tmp_path / "empty").write_text("# nothing\n")
            load_key_ring(None, tmp_path / "empty")


def test_a_missing_key_file_is_created_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "keys"
    rings = []
    threads = [threading.Thread(target=lambda: rings.append(load_key_ring(None, path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(rings) == 8 and len({ring.active_id for ring in rings}) == 1, "every process reads the same key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["keys"]
    sealed = rings[0].encrypt(b"x")
    assert load_key_ring(None, path).decrypt(sealed) == b"x"
