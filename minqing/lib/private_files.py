"""The data dir is the owner's only (no other local account reads it): directory 0700, the database,
key ring, secret key, sealed files and logs 0600.

Every Minqing process starts with ``umask 077`` (``minqing`` console script and the WSGI entry
point), so whatever it creates later — SQLite's database, WAL and shared-memory files, the key
ring, sealed files, the demo's logs, the file cache — is private from the start;
``secure_data_dir`` then narrows what an older version left readable to others.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

UMASK = 0o077


def private_umask() -> None:
    os.umask(UMASK)


def _narrow(path: Path, mode: int) -> None:
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
            return
        if stat.S_IMODE(st.st_mode) & ~mode:
            path.chmod(stat.S_IMODE(st.st_mode) & mode)
    except (FileNotFoundError, PermissionError):
        pass


def secure_data_dir(data_dir: Path, keyring: Path | None = None) -> None:
    """Directories of the data dir 0700 (the dir itself and its sub-directories, two levels),
    its files and the logs' 0600, and the key ring 0600 wherever it is."""
    data_dir = Path(data_dir)
    _narrow(data_dir, 0o700)
    if data_dir.is_dir():
        for child in data_dir.iterdir():
            if child.is_symlink():
                continue
            if child.is_dir():
                _narrow(child, 0o700)
                for grandchild in child.iterdir():
                    if grandchild.is_dir() and not grandchild.is_symlink():
                        _narrow(grandchild, 0o700)
                    elif child.name == "logs":
                        _narrow(grandchild, 0o600)
            else:
                _narrow(child, 0o600)
    if keyring is not None:
        _narrow(Path(keyring), 0o600)
