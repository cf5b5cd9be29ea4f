"""docs/API.md documents every message and field of the wire contract: its
tables are generated from the .proto files and must be current."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_api_md_tables_are_current():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "proto-doc.py")], capture_output=True, text=True,
                         check=True).stdout
    doc = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    begin, end = "<!-- proto:begin -->", "<!-- proto:end -->"
    region = doc[doc.index(begin) + len(begin):doc.index(end)].strip()
    assert region == out.strip(), "run scripts/proto-doc.py --update docs/API.md"
    # every field is explained, none left without a meaning
    for line in out.splitlines():
        if line.startswith("| ") and not line.startswith("| #") and not line.startswith("| value"):
            assert line.rstrip().rstrip("|").strip().split("|")[-1].strip(), f"undocumented: {line}"


def test_lifecycle_md_table_is_current():
    """docs/LIFECYCLE.md shows the transition table of common/fsm.c as jiesuctl fsm prints it."""
    from jiesu_harness import BIN
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "fsm-doc.py"), str(BIN / "jiesuctl")],
                         capture_output=True, text=True, check=True).stdout
    doc = (ROOT / "docs" / "LIFECYCLE.md").read_text(encoding="utf-8")
    begin, end = "<!-- fsm:begin -->", "<!-- fsm:end -->"
    region = doc[doc.index(begin) + len(begin):doc.index(end)].strip()
    assert region == out.strip(), "run scripts/fsm-doc.py --update docs/LIFECYCLE.md build/bin/jiesuctl"
    # every event a row names is in docs/API.md's list of events
    api = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    for line in out.splitlines()[2:]:
        event = line.split("`")[1]
        assert f"`{event}`" in api, f"docs/API.md does not list the event {event}"
