"""Run one command with a file on stdin; print its wall seconds and peak RSS (KiB) as JSON.

The benchmark starts every measured command through this small process, so that the peak
memory wait4(2) reports is the command's own and not inherited from a large parent (a
forked child's peak includes the parent's pages it had before exec).
"""

import json
import os
import sys
import time

stdin_path, argv = sys.argv[1], sys.argv[2:]
fd = os.open(stdin_path, os.O_RDONLY)
null = os.open(os.devnull, os.O_WRONLY)
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(fd, 0)
    os.dup2(null, 1)
    os.execvp(argv[0], argv)  # noqa: S606 - the benchmark's own commands
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "maxrss_kib": usage.ru_maxrss, "exit": os.waitstatus_to_exitcode(status)}))
