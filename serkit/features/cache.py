"""On-disk feature cache keyed by audio content, extractor parameters and serkit version.

Layout::

    <root>/<extractor key>/extractor.json          what the key stands for (for people)
    <root>/<extractor key>/<aa>/<audio sha256>.npy  one array per audio file

    <root>/stat/<aa>/<path sha256>.txt              "size:mtime_ns:ctime_ns:inode audio-sha256"

The extractor key is the sha256 of the extractor's name, its parameters as sorted JSON and
``serkit.__version__``; the file name is the sha256 of the audio file's bytes. Together
they are the cache key: the same audio under another path (or a renamed corpus) hits, a
changed parameter, a new serkit version or an edited file misses. Files are written to a
temporary name in the same folder and renamed (``os.replace``), so a crash or Ctrl-C never
leaves a truncated ``.npy`` under a valid name, and concurrent writers of the same entry
are harmless (both write the same array).

Hashing a corpus on every run costs a full read of it; :meth:`FeatureCache.audio_hash`
remembers each file's hash under its path with the file's size, modification and change
times (ns) and inode, and hashes again only when one of them differs, as git's index does.
The content hash still keys the features: a file touched but unchanged is re-hashed and
hits; a file rewritten (even to the same size) gets a new ctime and is re-hashed. A hash is
not remembered for a file modified in the last :data:`RACY_S` seconds, which could still
change within the same timestamp.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import serkit
from serkit.fileio import atomic_open, atomic_write_bytes

log = logging.getLogger(__name__)

_CHUNK = 1 << 20

#: Files modified more recently than this are hashed every time (module docstring).
RACY_S = 2.0


def default_cache_root() -> Path:
    """``$SERKIT_CACHE`` if set, else ``~/.cache/serkit/features``."""
    env = os.environ.get("SERKIT_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "serkit" / "features"


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def extractor_key(extractor: Any) -> str:
    """Hex sha256 of the extractor's name, sorted-JSON params and the serkit version."""
    return hashlib.sha256(_describe(extractor).encode()).hexdigest()


def _describe(extractor: Any) -> str:
    return json.dumps(
        {"name": extractor.name, "params": extractor.params, "serkit": serkit.__version__},
        sort_keys=True,
        separators=(",", ":"),
    )


class FeatureCache:
    """Features on disk, one ``.npy`` per (audio content, extractor, serkit version).

    Args:
        root: cache folder; defaults to :func:`default_cache_root`.

    Example:
        >>> import tempfile, numpy as np
        >>> from serkit.features import FeatureCache, make_features
        >>> cache = FeatureCache(tempfile.mkdtemp())
        >>> fusion = make_features("fusion107")
        >>> cache.get("ab" * 32, fusion) is None
        True
        >>> _ = cache.put("ab" * 32, fusion, np.zeros(107, dtype="float32"))
        >>> cache.get("ab" * 32, fusion).shape
        (107,)
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root is not None else default_cache_root()

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    def path_for(self, audio_hash: str, extractor: Any) -> Path:
        """Where the features of the audio with sha256 ``audio_hash`` are stored."""
        return self.root / extractor_key(extractor)[:32] / audio_hash[:2] / f"{audio_hash}.npy"

    def audio_hash(self, path: str | Path) -> str:
        """:func:`file_sha256` of ``path``, read from the stat memo while the file's size,
        times and inode are those it was hashed with (module docstring).

        Raises:
            OSError: the file cannot be read.
        """
        real = os.path.realpath(path)
        stamp = _stat_stamp(os.stat(real))
        memo = self._memo_path(real)
        try:
            recorded, digest = memo.read_text().split()
            if recorded == stamp and len(digest) == 64:
                return digest
        except (OSError, ValueError):
            pass  # no memo yet, or an unreadable one: hash
        digest = file_sha256(real)
        after = os.stat(real)
        # Remember only a file that did not change while it was read and is not so fresh
        # that a later write could keep its timestamps (the "racy" case).
        if _stat_stamp(after) == stamp and time.time() - after.st_mtime > RACY_S:
            try:
                memo.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(memo, f"{stamp} {digest}\n".encode())
            except OSError as exc:  # a read-only cache still works, without the memo
                log.debug("cannot write hash memo %s (%s)", memo, exc)
        return digest

    def _memo_path(self, real_path: str) -> Path:
        key = hashlib.sha256(os.fsencode(real_path)).hexdigest()
        return self.root / "stat" / key[:2] / f"{key}.txt"

    def get(self, audio_hash: str, extractor: Any, *, lazy: bool = False) -> np.ndarray | CachedArray | None:
        """The cached features, or ``None`` on a miss (an unreadable entry is a miss).

        With ``lazy`` only the file's header is read: a :class:`CachedArray` that loads
        the values when used, so a corpus of waveforms need not fit in memory.
        """
        path = self.path_for(audio_hash, extractor)
        try:
            return CachedArray(path) if lazy else np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache entry %s (%s); it will be recomputed",
                        path, exc)
            return None

    def put(self, audio_hash: str, extractor: Any, features: np.ndarray) -> Path:
        """Store ``features`` atomically; returns the file written."""
        path = self.path_for(audio_hash, extractor)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_description(path.parent.parent, extractor)
        _atomic_save(path, np.asarray(features))
        return path

    def _write_description(self, folder: Path, extractor: Any) -> None:
        info = folder / "extractor.json"
        if not info.exists():
            atomic_write_bytes(info, (json.dumps(json.loads(_describe(extractor)),
                                                  indent=2, sort_keys=True) + "\n").encode())


class CachedArray:
    """A cached ``.npy`` array that is read from disk each time it is used.

    It has the ``shape``, ``ndim`` and ``len`` of the array without loading it;
    ``np.asarray`` (or assigning it into an array) loads the values.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read(f)
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        array = np.load(self.path, allow_pickle=False)
        return array if dtype is None else array.astype(dtype)

    def __repr__(self) -> str:
        return f"CachedArray({str(self.path)!r}, shape={self.shape})"


def _stat_stamp(st: os.stat_result) -> str:
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _atomic_save(path: Path, array: np.ndarray) -> None:
    with atomic_open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)
