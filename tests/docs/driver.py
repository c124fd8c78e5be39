"""Run the Python blocks of one page in one namespace, as a notebook would (a child process).

Reads one file path per line on stdin, executes that file's code in the page's namespace, and
prints a done line with the outcome, so the parent can tell each block's output apart.
"""

from __future__ import annotations

import json
import sys
import traceback

DONE = "__STEWARD_DOCS_DONE__"


def main() -> None:
    """Execute each named file in one shared namespace until stdin closes."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    for line in sys.stdin:
        path, name = line.rstrip("\n").split("\t", 1)
        with open(path) as file:
            code = file.read()
        ok = True
        try:
            exec(compile(code, name, "exec"), namespace)
        except BaseException:  # a block's SystemExit or failure ends the block, not the driver
            traceback.print_exc(file=sys.stdout)
            ok = False
        sys.stdout.flush()
        sys.stderr.flush()
        print(f"\n{DONE} {json.dumps({'ok': ok})}", flush=True)


if __name__ == "__main__":
    main()
