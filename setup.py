"""pip install . : the C tool built with the project's own autotools build.

The wheel holds what `make install` would put under a prefix, laid out so
that it works wherever pip puts it (a virtual environment): the
`pydeadlock` command in bin/, the preload shim in lib/pydeadlock/, the
Python side that `run` puts on the program's path in
share/pydeadlock/python/, and the `pydeadlock` package (DeadlockError, the
pytest plugin) in site-packages.  The build needs what
scripts/install-deps.sh installs (a C compiler, autotools, libunwind,
elfutils' libdw); it says which is missing.
"""
import os
import re
import shutil
import subprocess
import sys

from setuptools import Distribution, setup
from setuptools.command.build import build

HERE = os.path.dirname(os.path.abspath(__file__))
STAGE = os.path.join("pip-build", "stage")     # relative: setuptools wants it so
SHARE = "share/pydeadlock/python"


def version():
    with open(os.path.join(HERE, "configure.ac")) as f:
        return re.search(r"AC_INIT\(\[pydeadlock\], \[([^\]]+)\]", f.read()).group(1)


def run(cmd, cwd):
    print("pydeadlock: " + " ".join(cmd), flush=True)
    if subprocess.call(cmd, cwd=cwd) != 0:
        sys.exit("pydeadlock: '%s' failed: the build needs the packages of "
                 "scripts/install-deps.sh (as root: sh scripts/install-deps.sh)"
                 % " ".join(cmd))


class BuildNative(build):
    """Configure and make the binary and the shim, then stage them."""

    def run(self):
        objdir = os.path.join(HERE, "pip-build", "objects")
        stage = os.path.join(HERE, STAGE)
        if not os.path.exists(os.path.join(HERE, "configure")):
            run(["autoreconf", "-fi"], HERE)
        os.makedirs(objdir, exist_ok=True)
        if not os.path.exists(os.path.join(objdir, "Makefile")):
            run([os.path.join(HERE, "configure"), "--quiet"], objdir)
        run(["make", "-j%d" % (os.cpu_count() or 2),
             "tracer/attach/syscall_names.h", "pydeadlock",
             "tracer/shim/libpydeadlock.la"], objdir)
        shutil.rmtree(stage, ignore_errors=True)
        os.makedirs(os.path.join(stage, "bin"))
        os.makedirs(os.path.join(stage, "lib"))
        shutil.copy2(os.path.join(objdir, "pydeadlock"), os.path.join(stage, "bin"))
        shutil.copy2(os.path.join(objdir, "tracer", "shim", ".libs", "libpydeadlock.so"),
                     os.path.join(stage, "lib"))
        super().run()


class BinaryDistribution(Distribution):
    """Native code inside: a wheel for this platform, not a pure one."""

    def has_ext_modules(self):
        return True


def python_side(folder):
    path = os.path.join("python", folder)
    return (os.path.join(SHARE, folder),
            [os.path.join(path, f) for f in sorted(os.listdir(os.path.join(HERE, path)))
             if f.endswith(".py")])


setup(
    version=version(),
    distclass=BinaryDistribution,
    cmdclass={"build": BuildNative},
    package_dir={"": "python"},
    packages=["pydeadlock"],
    # the command is an ELF file: data, not a script whose first line
    # setuptools would read as text
    data_files=[
        ("bin", [os.path.join(STAGE, "bin", "pydeadlock")]),
        ("lib/pydeadlock", [os.path.join(STAGE, "lib", "libpydeadlock.so")]),
        python_side("pydeadlock"),
        python_side("uncaught"),
    ],
)
