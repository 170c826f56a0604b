"""Builds the Rust shared library and puts it inside the package.

`pip install ./bindings/python` (from the repository root) runs `cargo build --release --locked
-p tollgate-python` in the repository two levels up and copies
target/release/libtollgate_python.so (CARGO_TARGET_DIR is honoured) to tollgate/_native.abi3.so:
tollgate-ffi's C ABI, which the package calls with ctypes, and the extension module
`tollgate._native` (ffi/python), in one file. TOLLGATE_CARGO_FEATURES=aws-lc builds the library
with the aws-lc signature backend (then preferred; `tollgate.backends()` lists what a build has).
TOLLGATE_PREBUILT_LIBRARY=<path> skips cargo and ships that file (a build of ffi/python) instead.
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
BUILT = "libtollgate_python.so"
LIBRARY = "_native.abi3.so"


def repository_root() -> Path:
    root = HERE.parent.parent
    if not (root / "ffi" / "Cargo.toml").is_file():
        raise RuntimeError(
            f"{root} is not the Tollgate repository: install from a checkout "
            "(pip install ./bindings/python), or set TOLLGATE_PREBUILT_LIBRARY"
        )
    return root


def build_library() -> Path:
    prebuilt = os.environ.get("TOLLGATE_PREBUILT_LIBRARY")
    if prebuilt:
        return Path(prebuilt)
    root = repository_root()
    command = ["cargo", "build", "--release", "--locked", "-p", "tollgate-python"]
    features = os.environ.get("TOLLGATE_CARGO_FEATURES", "").strip()
    if features:
        command += ["--features", features]
    subprocess.run(command, cwd=root, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or root / "target")
    if not target.is_absolute():
        target = root / target
    return target / "release" / BUILT


class BuildPyWithLibrary(build_py):
    def run(self) -> None:
        super().run()
        library = build_library()
        destination = Path(self.build_lib) / "tollgate" / LIBRARY
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library, destination)
        os.chmod(destination, 0o755)


class BinaryDistribution(Distribution):
    """The wheel holds a native library: tag it for this platform, not py3-none-any."""

    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution)
