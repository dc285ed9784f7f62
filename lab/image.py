# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab hosts' root file system: Debian 12 (bookworm) made by ``debootstrap`` into build/lab-image.

Every lab host (``hosts.py``) boots this tree with ``systemd-nspawn --volatile=overlay``, so the tree
itself is never written after the build. It carries what a bare-metal node brings before Ansible runs:
systemd, sshd, sudo, Python 3 with venv (the roles install from a wheelhouse) and python3-apt (Ansible's
``apt`` module), iproute2, curl, and an ``ansible`` user with passwordless sudo. FRR is not installed:
its .deb files wait in /var/cache/apt/archives beside the apt lists, so the speaker role's
``apt: name=frr`` (without ``update_cache``) installs it although the lab has no network, as on a
cluster whose nodes only reach their own package cache.

The packages come from the mirror the machine's own apt uses (read from /etc/apt/sources.list*). The
image is rebuilt only when this file (the recipe and its package list) changes: build/lab-image.recipe
holds the hash it was built from. ``python -m lab.image`` builds it (``make lab-image``).
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "build" / "lab-image"
STAMP = ROOT / "build" / "lab-image.recipe"
SUITE = "bookworm"
# Installed: what a node has before Ansible reaches it. debootstrap adds their dependencies.
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "libnss-myhostname",
    "openssh-server",
    "sudo",
    "python3",
    "python3-venv",
    "python3-apt",
    "iproute2",
    "iputils-ping",
    "arping",
    "procps",
    "curl",
    "ca-certificates",
)
# Downloaded only (with their dependencies and recommendations), for the roles to install offline.
CACHED_PACKAGES = ("frr",)
# Units that have nothing to do in a lab container and only slow its boot or fail there.
MASKED_UNITS = (
    "systemd-timesyncd.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
    "getty@tty1.service",
)
USER = "ansible"
REQUIRED_TOOLS = ("debootstrap", "chroot")


class ImageError(RuntimeError):
    """The image cannot be built here; the message says why."""


@dataclass(frozen=True)
class Mirror:
    uri: str
    keyring: str | None = None


def recipe_hash() -> str:
    """What the image is built from: this file (steps and package lists)."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def is_current(image: Path = IMAGE, stamp: Path = STAMP) -> bool:
    try:
        return stamp.read_text().strip() == recipe_hash() and (image / "usr" / "bin" / "python3").exists()
    except OSError:
        return False


def users(image: Path = IMAGE) -> list[int]:
    """PIDs of the systemd-nspawn processes booted from ``image`` (lab hosts that are up): a rebuild
    would pull the files from under their overlays."""
    wanted = "--directory=%s" % image
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path("/proc/%s/cmdline" % entry).read_bytes().split(b"\0")
        except OSError:
            continue
        if os.path.basename(argv[0].decode(errors="replace")) == "systemd-nspawn" and wanted.encode() in argv:
            found.append(int(entry))
    return found


def _deb822_sources(text: str) -> list[dict[str, str]]:
    stanzas, current, key = [], {}, None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            current[key] = value.strip()
    return stanzas


def apt_sources(paths: list[str] | None = None) -> list[tuple[str, list[str], str | None]]:
    """(uri, suites, keyring) of every enabled ``deb`` source, in apt's reading order."""
    if paths is None:
        paths = ["/etc/apt/sources.list"] + sorted(
            glob.glob("/etc/apt/sources.list.d/*.list") + glob.glob("/etc/apt/sources.list.d/*.sources")
        )
    found = []
    for path in paths:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in _deb822_sources(text):
                if stanza.get("enabled", "yes").lower() == "no" or "deb" not in stanza.get("types", "").split():
                    continue
                for uri in stanza.get("uris", "").split():
                    found.append((uri, stanza.get("suites", "").split(), stanza.get("signed-by")))
        else:
            for line in text.splitlines():
                match = re.match(r"\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)", line)
                if match:
                    options = dict(o.split("=", 1) for o in (match.group(1) or "").split() if "=" in o)
                    found.append((match.group(2), [match.group(3)], options.get("signed-by")))
    return found


def host_mirror(paths: list[str] | None = None) -> Mirror:
    """The Debian archive the machine's apt uses: a source carrying ``bookworm`` itself, else the
    first that looks like the main archive (…/debian) of another Debian release."""
    sources = [s for s in apt_sources(paths) if s[0].startswith(("http://", "https://", "file:/"))]
    for uri, suites, keyring in sources:
        if SUITE in suites:
            return Mirror(uri.rstrip("/"), keyring if keyring and keyring.startswith("/") else None)
    for uri, _suites, keyring in sources:
        if uri.rstrip("/").endswith("/debian"):
            return Mirror(uri.rstrip("/"), keyring if keyring and keyring.startswith("/") else None)
    raise ImageError(
        "no Debian archive found in /etc/apt/sources.list*: the lab image is made by debootstrap from the "
        "mirror this machine's apt uses (pass --mirror URL to name one)"
    )


def run(argv: list[str], timeout: float = 1800, **kw) -> None:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip()[-2000:]
        raise ImageError("%s failed (%d): %s" % (" ".join(argv[:4]), out.returncode, tail))


def in_root(root: Path, script: str, timeout: float = 1800) -> None:
    """Run a shell script inside the tree being built (a plain chroot: nothing is booted yet)."""
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND": "noninteractive",
        "LC_ALL": "C",
        "HOME": "/root",
    }
    run(["chroot", str(root), "/bin/sh", "-euc", script], timeout=timeout, env=env)


def configure(root: Path, mirror: Mirror) -> None:
    """Users, sudo, sshd, apt sources and cache, masked units: everything after debootstrap."""
    (root / "etc" / "apt" / "sources.list").write_text("deb %s %s main\n" % (mirror.uri, SUITE))
    (root / "etc" / "hostname").unlink(missing_ok=True)  # absent: systemd keeps the hostname nspawn gives each host
    (root / "etc" / "machine-id").write_text("")  # empty: every boot gets a fresh one
    sudoers = root / "etc" / "sudoers.d" / USER
    sudoers.write_text("%s ALL=(ALL:ALL) NOPASSWD: ALL\n" % USER)
    sudoers.chmod(0o440)
    sshd = root / "etc" / "ssh" / "sshd_config.d" / "metal-lb-lab.conf"
    sshd.write_text("PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n")
    # The speaker role installs FRR from here; apt must keep what it downloads (it does for apt-get).
    (root / "etc" / "apt" / "apt.conf.d" / "90metal-lb-lab").write_text(
        'APT::Keep-Downloaded-Packages "true";\nAPT::Install-Recommends "true";\n'
        # lists kept compressed and without translations: ~10 MB instead of 50
        'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\nAcquire::Languages "none";\n'
    )
    in_root(
        root,
        "\n".join(
            [
                "useradd --create-home --shell /bin/bash %s" % USER,
                "usermod --password '*' %s" % USER,  # no password, but not locked: key logins work
                "install -d -m 700 -o %s -g %s /home/%s/.ssh" % (USER, USER, USER),
                "systemctl mask %s" % " ".join(MASKED_UNITS),
                "systemctl enable ssh.service",
                "rm -rf /var/lib/apt/lists/*",  # debootstrap's uncompressed copy
                "apt-get -q update",
                "apt-get -q clean",
                "apt-get -q -y --download-only install %s" % " ".join(CACHED_PACKAGES),
                "rm -f /var/cache/apt/*.bin",
            ]
        ),
    )
    resolv = root / "etc" / "resolv.conf"  # debootstrap's copy of the machine's: the lab has no DNS
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    resolv.write_text("")


def build(image: Path = IMAGE, stamp: Path = STAMP, mirror: Mirror | None = None, log=print) -> bool:
    """Build the image unless it is current; returns whether it built. Safe against a parallel build
    (a lock) and a broken one (built beside, moved into place when complete)."""
    if is_current(image, stamp):
        return False
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if os.geteuid() != 0:
        raise ImageError("building the lab image needs root (debootstrap, chroot)")
    if missing:
        raise ImageError("building the lab image needs %s (apt-get install debootstrap)" % ", ".join(missing))
    image.parent.mkdir(parents=True, exist_ok=True)
    with open(str(image) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_current(image, stamp):  # built by whoever held the lock
            return False
        running = users(image)
        if running:
            raise ImageError(
                "%s must be rebuilt (its recipe changed) but lab hosts run from it (systemd-nspawn PIDs %s): "
                "remove their lab first (make lab-down)" % (image, ", ".join(map(str, running)))
            )
        mirror = mirror or host_mirror()
        recipe = recipe_hash()  # read once: the stamp names what this build really followed
        work = Path(str(image) + ".new")
        shutil.rmtree(work, ignore_errors=True)
        started = time.monotonic()
        log("lab-image: debootstrap %s from %s into %s" % (SUITE, mirror.uri, image))
        argv = [
            "debootstrap",
            "--variant=minbase",
            "--components=main",
            "--include=" + ",".join(PACKAGES),
        ]
        if mirror.keyring:
            argv.append("--keyring=" + mirror.keyring)
        try:
            run(argv + [SUITE, str(work), mirror.uri])
            configure(work, mirror)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        try:
            stamp.unlink()
        except FileNotFoundError:
            pass
        shutil.rmtree(image, ignore_errors=True)
        os.rename(work, image)
        stamp.write_text(recipe + "\n")
        log("lab-image: built in %.0f s, %s" % (time.monotonic() - started, size(image)))
        return True


def size(image: Path = IMAGE) -> str:
    out = subprocess.run(["du", "-sh", str(image)], capture_output=True, text=True, check=False)
    return out.stdout.split()[0] if out.returncode == 0 and out.stdout else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make lab-image", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", help="Debian archive URL (default: the one this machine's apt uses)")
    args = parser.parse_args(argv)
    try:
        built = build(mirror=Mirror(args.mirror.rstrip("/")) if args.mirror else None)
    except ImageError as exc:
        print("lab-image: %s" % exc, file=sys.stderr)
        return 1
    if not built:
        print("lab-image: %s is built from the current recipe (%s)" % (IMAGE, size()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
