# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the get-pip.py that ansible-test downloads to bootstrap its venvs.

ansible-test fetches get-pip from a host this machine cannot reach, unless the script is already in
~/.ansible/test/cache/get_pip_<version>.py; `make sanity`/`make ansible-units` copy this file there.
It runs in ansible-test's fresh venv as `get-pip.py [pip options] pip==X [--no-setuptools] [--no-wheel]`:
we bootstrap pip from the interpreter's bundled wheel (ensurepip), then install the requested pip
through pip's normal configuration (this machine's index, find-links and constraints).
"""

from __future__ import annotations

import os
import subprocess
import sys

# get-pip.py options that plain `pip install` does not know.
GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")


def main() -> int:
    """Bootstrap pip, then install what get-pip.py was asked to install."""
    env = dict(os.environ)
    env.pop("PIP_CONFIG_FILE", None)  # use the machine's pip configuration, never a blanked one

    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], env=env)

    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    if any(not arg.startswith("-") for arg in args):
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + args
        if subprocess.call(command, env=env) != 0:
            # The bundled pip still works; ansible-test only needs *a* pip in the venv.
            sys.stderr.write(
                "get-pip stand-in: could not install %s, keeping ensurepip's pip\n" % " ".join(args)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
