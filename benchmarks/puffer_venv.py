"""Build PufferLib 3.0.0 into ``benchmarks/.venvs/puffer`` (called by ``benchmarks.compare.ensure_venv``).

PufferLib 3.0.0 is published as source only, and a plain ``pip install pufferlib==3.0.0`` fails
without internet beyond the package index:

- its ``setup.py`` downloads raylib and box2d (for its own C environments, "Ocean") from GitHub;
- ``NO_OCEAN=1`` skips them, but then ``setup.py`` reads ``c_extension_paths``, which it only
  defines inside the Ocean branch: ``NameError``;
- with an ``nvcc`` on the PATH it builds its advantage kernel for CUDA.

So the steps are (each from PyPI through pip, in the venv that already holds torch 2.13.0 CPU):

1. ``pip install setuptools wheel 'numpy<2' cython torch==2.13.0``: its build requirements, in the venv
   itself, for ``--no-build-isolation`` (an isolated build would fetch an unpinned torch; PufferLib
   needs numpy < 2 at run time, so it is built against that).
2. ``pip download pufferlib==3.0.0 --no-deps --no-binary :all: --no-build-isolation`` with
   ``NO_OCEAN=1``: pip runs ``setup.py`` for the metadata even to download, so the missing name is
   given to it through a ``sitecustomize`` on ``PYTHONPATH`` that defines it as a builtin (pip
   unpacks into a folder of its own, which cannot be patched first).
3. Unpack the sdist and patch its ``setup.py``: ``c_extension_paths = []`` before its first use.
4. ``nice -n 10 pip install --no-build-isolation <unpacked folder>`` with ``NO_OCEAN=1`` and every
   PATH folder that holds an ``nvcc`` removed: compiles the CPU advantage kernel (``pufferlib._C``,
   a torch C++ extension; 1-3 minutes on 2 cores) and installs PufferLib's run-time dependencies
   (gymnasium 0.29.1, numpy 1.26, ...).
5. Check that ``pufferlib.pufferl`` imports (it imports torch, then the kernel).
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

VERSION = "3.0.0"
REQUIREMENTS = [f"pufferlib=={VERSION} (sdist, NO_OCEAN=1, patched setup.py)", "numpy<2"]
"""What the venv's stamp records (``benchmarks.compare.PEER_VENVS``)."""
BUILD_REQUIREMENTS = ["setuptools", "wheel", "numpy<2", "cython"]
PATCH_ANCHOR = "c_extensions = []\n"
PATCH = PATCH_ANCHOR + "c_extension_paths = []  # NO_OCEAN=1: setup() reads it, only the Ocean branch sets it\n"


def path_without_nvcc(path: str) -> str:
    """``path`` (a PATH value) without the folders that hold an ``nvcc``: PufferLib's ``setup.py``
    builds its kernel for CUDA when ``shutil.which("nvcc")`` finds one."""
    return os.pathsep.join(d for d in path.split(os.pathsep) if d and not os.access(os.path.join(d, "nvcc"), os.X_OK))


def patch_setup(setup_py: Path) -> None:
    """Define ``c_extension_paths`` before ``setup.py`` uses it (the ``NameError`` under ``NO_OCEAN=1``)."""
    text = setup_py.read_text()
    if text.count(PATCH_ANCHOR) != 1:
        raise SystemExit(f"{setup_py}: expected one line {PATCH_ANCHOR!r} to patch; is this PufferLib {VERSION}?")
    setup_py.write_text(text.replace(PATCH_ANCHOR, PATCH))


def build(py: Path, torch_pin: str, log: Callable[[str], None]) -> None:
    """Install PufferLib 3.0.0 into the venv of ``py`` (which has ``torch_pin`` installed); the steps above."""
    pip = [str(py), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, *BUILD_REQUIREMENTS, torch_pin], check=True)
    env = {**os.environ, "NO_OCEAN": "1", "PATH": path_without_nvcc(os.environ.get("PATH", ""))}
    with tempfile.TemporaryDirectory(prefix="puffer-build-") as tmp:
        work = Path(tmp)
        shim = work / "shim"
        shim.mkdir()
        (shim / "sitecustomize.py").write_text("import builtins\n\nbuiltins.c_extension_paths = []\n")
        log(f"downloading the pufferlib {VERSION} sdist ...")
        subprocess.run(
            [str(py), "-m", "pip", "download", "--quiet", f"pufferlib=={VERSION}", "--no-deps"]
            + ["--no-binary", ":all:", "--no-build-isolation", "-d", str(work)],
            check=True,
            env={**env, "PYTHONPATH": str(shim)},
        )
        (sdist,) = work.glob(f"pufferlib-{VERSION}.tar.gz")
        with tarfile.open(sdist) as tar:
            tar.extractall(work, filter="data")
        source = work / f"pufferlib-{VERSION}"
        patch_setup(source / "setup.py")
        log(f"building pufferlib {VERSION} (C++ advantage kernel, CPU only; a few minutes) ...")
        subprocess.run(["nice", "-n", "10", *pip, "--no-build-isolation", str(source)], check=True, env=env)
        # in the build folder: ``import pufferlib`` links ./resources to its package data
        check = subprocess.run([str(py), "-c", "import pufferlib.pufferl"], cwd=work, capture_output=True, text=True)
    if check.returncode != 0:
        tail = " | ".join(check.stderr.strip().splitlines()[-3:])
        raise SystemExit(f"{py}: pufferlib {VERSION} was installed but does not import: {tail}")
