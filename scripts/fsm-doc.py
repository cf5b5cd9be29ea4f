#!/usr/bin/python3
"""fsm-doc.py [JIESUCTL]: print the transition table of an order (common/fsm.c,
as `jiesuctl fsm` prints it) as a Markdown table. docs/LIFECYCLE.md holds it
between <!-- fsm:begin --> and <!-- fsm:end -->; `scripts/fsm-doc.py --update
docs/LIFECYCLE.md [JIESUCTL]` rewrites that part (a test checks it is current)."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def table(jiesuctl):
    rows = [json.loads(l) for l in subprocess.run([jiesuctl, "fsm"], capture_output=True, text=True,
                                                  check=True).stdout.splitlines()]
    out = ["| stage | action | who | next stage | event |", "|---|---|---|---|---|"]
    for r in rows:
        nxt = r["next"] + (f" or {r['alt']}" if r["alt"] else "") + (" (stage saved)" if r["saves_stage"] else "")
        out.append(f"| {r['stage']} | {r['action']} | {', '.join(r['roles'])} | {nxt} | `{r['event']}` |")
    return "\n".join(out)


def main(argv):
    update = len(argv) > 1 and argv[1] == "--update"
    rest = argv[2:] if update else argv[1:]
    path = rest[0] if update else None
    jiesuctl = (rest[1] if update and len(rest) > 1 else rest[0] if not update and rest
                else str(ROOT / "build" / "bin" / "jiesuctl"))
    t = table(jiesuctl)
    if not update:
        print(t)
        return 0
    p = Path(path)
    doc = p.read_text(encoding="utf-8")
    begin, end = "<!-- fsm:begin -->", "<!-- fsm:end -->"
    a, b = doc.index(begin) + len(begin), doc.index(end)
    p.write_text(doc[:a] + "\n" + t + "\n" + doc[b:], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
