"""``python tests/cli/launch.py [fsize=N] [as=N] -- COMMAND...``: exec COMMAND with SIGINT at its
default and the given resource limits.

The tests start ``bench`` through this instead of a ``preexec_fn``: a ``preexec_fn`` runs Python
code between fork and exec, which is unsafe in a multithreaded process (pytest's, once JAX,
TensorFlow or torch is imported in it) and makes JAX warn of a deadlock. Ignored signals
(SIGXFSZ here) and limits survive ``exec``.
"""

from __future__ import annotations

import os
import resource
import signal
import sys

LIMITS = {"fsize": resource.RLIMIT_FSIZE, "as": resource.RLIMIT_AS}


def main(argv: list[str]) -> None:
    split = argv.index("--")
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    for item in argv[:split]:
        name, _, value = item.partition("=")
        if name == "fsize":
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(LIMITS[name], (int(value), int(value)))
    command = argv[split + 1 :]
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
