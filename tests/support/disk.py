"""A small real file system for "the disk is full" and "the disk is read-only": a tmpfs of a few
hundred KB mounted on a folder of the test's, filled to the last byte or remounted read-only.

Mounting needs root (CI and the dev machines run the suite as root); as root, chmod would not stop
a write, so a real mount is the honest way to get ENOSPC and EROFS from the kernel. Elsewhere the
fixture skips with the reason. It is always unmounted, even when the test fails.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path


class SmallDisk:
    def __init__(self, folder: Path, size_kb: int = 512):
        self.folder = folder
        self.size_kb = size_kb
        self.mounted = False

    def mount(self) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_kb}k,mode=0700",
                               "tmpfs", str(self.folder)], capture_output=True)
        self.mounted = done.returncode == 0
        return self.mounted

    def fill(self) -> None:
        """Write a filler file until the kernel says ENOSPC: the next write anywhere fails."""
        with open(self.folder / ".filler", "wb", buffering=0) as handle:
            block = b"\0" * 4096
            try:
                while True:
                    handle.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
            try:  # the last partial block too
                while True:
                    handle.write(b"\0")
            except OSError:
                pass

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.folder)], check=True)

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.folder)], check=False)
            self.mounted = False
