"""What the analysis checks (check_analysis.py, check_paper_table.py) share: a failed check
as an exception, and running a command that must exit as expected without a traceback."""

import subprocess


class CheckFailed(Exception):
    pass


def require(cond, message):
    if not cond:
        raise CheckFailed(message)


def run(command, env=None, cwd=None, expect_rc=0, timeout=300, echo=False):
    """Runs `command` (captured); raises CheckFailed naming it for another exit code (None:
    any) or a Python traceback on stderr."""
    if echo:
        print("$", " ".join(command), flush=True)
    p = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    if expect_rc is not None and p.returncode != expect_rc:
        raise CheckFailed(f"{' '.join(command)}: exit {p.returncode}, expected {expect_rc}\n"
                          f"stdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}")
    require("Traceback" not in p.stderr, f"{' '.join(command)}: a traceback on stderr:\n{p.stderr[-3000:]}")
    return p
