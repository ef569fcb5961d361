# gdb -batch -x trace.py --args BINARY ARGS...   (env HOT_OUT: the file to append to)
#
# Records which functions of BINARY one command runs in its own process, in the order they
# first run: a breakpoint on every function, each reported once and then disabled.
import os
import subprocess

import gdb

binary = gdb.current_progspace().filename
names = {}
nm = subprocess.run(["nm", binary], capture_output=True, text=True, check=True)
for line in nm.stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tTwW":
        names.setdefault(int(parts[0], 16), parts[2])

for setting in ("pagination off", "confirm off", "detach-on-fork on",
                "follow-fork-mode parent"):
    gdb.execute("set " + setting)

hits = []


class FirstRun(gdb.Breakpoint):
    def __init__(self, addr, name):
        super().__init__("*0x%x" % addr, internal=True)
        self.silent = True
        self.name = name

    def stop(self):
        hits.append(self.name)
        self.enabled = False
        return False


gdb.execute("starti")
for addr, name in names.items():
    FirstRun(addr, name)
gdb.execute("continue")

with open(os.environ["HOT_OUT"], "a") as out:
    out.writelines(n + "\n" for n in hits)
gdb.execute("kill")
