#!/usr/bin/python3
"""proto-doc.py: print Markdown tables of every message and enum in
proto/jiesu/v1/*.proto, with the comment of each field. docs/API.md holds its
output between the markers <!-- proto:begin --> and <!-- proto:end -->;
`scripts/proto-doc.py --update docs/API.md` rewrites that part."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse(path):
    out = []  # (kind, name, doc, rows)
    doc = []
    stack = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("//"):
            doc.append(line[2:].strip())
            continue
        m = re.match(r"(message|enum)\s+(\w+)\s*\{\s*(\})?", line)
        if m:
            block = [m.group(1), m.group(2), " ".join(doc), []]
            out.append(block)
            if not m.group(3):
                stack.append(block)
            doc = []
            continue
        if line.startswith("oneof"):
            stack.append(None)
            doc = []
            continue
        if line.startswith("}"):
            if stack:
                stack.pop()
            doc = []
            continue
        cur = next((b for b in reversed(stack) if b), None)
        comment = ""
        if "//" in line:
            line, comment = line.split("//", 1)
            line, comment = line.strip(), comment.strip()
        if cur and cur[0] == "message":
            fm = re.match(r"(repeated\s+)?(map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*(\d+);", line)
            if fm:
                typ = (fm.group(1) or "") + fm.group(2)
                note = comment or " ".join(doc)
                if any(b is None for b in stack):
                    note = ("oneof payload. " + note).strip()
                cur[3].append((fm.group(4), fm.group(3), typ.strip(), note))
        elif cur and cur[0] == "enum":
            em = re.match(r"(\w+)\s*=\s*(\d+);", line)
            if em:
                cur[3].append((em.group(2), em.group(1), "", comment or " ".join(doc)))
        if line:
            doc = []
    return out


def render():
    lines = []
    for path in sorted((ROOT / "proto/jiesu/v1").glob("*.proto")):
        lines.append(f"### `{path.relative_to(ROOT)}`\n")
        for kind, name, doc, rows in parse(path):
            lines.append(f"#### {kind} `{name}`\n")
            if doc:
                lines.append(doc + "\n")
            if kind == "message":
                if not rows:
                    lines.append("(no fields)\n")
                    continue
                lines.append("| # | field | type | meaning |")
                lines.append("|---|---|---|---|")
                for num, fname, typ, note in rows:
                    lines.append(f"| {num} | `{fname}` | `{typ}` | {note} |")
            else:
                lines.append("| value | name | meaning |")
                lines.append("|---|---|---|")
                for num, vname, _, note in rows:
                    lines.append(f"| {num} | `{vname}` | {note} |")
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    text = render()
    if len(sys.argv) == 3 and sys.argv[1] == "--update":
        p = Path(sys.argv[2])
        doc = p.read_text(encoding="utf-8")
        b, e = "<!-- proto:begin -->", "<!-- proto:end -->"
        i, j = doc.index(b) + len(b), doc.index(e)
        p.write_text(doc[:i] + "\n" + text + "\n" + doc[j:], encoding="utf-8")
    else:
        print(text)
