"""Filter NUL-separated paths on stdin through galaxy.yml's build_ignore, as ansible-galaxy builds.

Usage: git ls-files -z ... | python .ci/shipped_files.py galaxy.yml | tar --null --files-from=- ...
"""

import fnmatch
import sys

import yaml


def ignored(path: str, patterns: list) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes for pattern in patterns)


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        patterns = yaml.safe_load(handle).get("build_ignore") or []
    paths = [p for p in sys.stdin.buffer.read().decode().split("\0") if p]
    sys.stdout.buffer.write(b"".join(p.encode() + b"\0" for p in paths if not ignored(p, patterns)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
