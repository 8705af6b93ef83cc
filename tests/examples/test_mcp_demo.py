"""The README's main job (examples/mcp_demo.py) runs and tells the story it claims."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).parents[2] / "examples" / "mcp_demo.py"


def test_the_demo_survives_two_kills_and_finishes_the_job() -> None:
    done = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    transcript = "\n".join(lines)
    assert "[server 1]" in transcript and "[server 3]" in transcript
    # The job is killed inside "render", then again while it waits for approval.
    assert any("status: running · task render" in line for line in lines)
    assert "SIGKILL server 1" in transcript and "SIGKILL server 2" in transcript
    waiting = [line for line in lines if 'asks "Publish this note?"' in line]
    assert any("(the pause survived the restart)" in line for line in waiting)
    assert any(line.endswith("· 4/4 tasks done") and "status: done" in line for line in lines)
    output = json.loads(transcript.split("get_workflow_result:\n", 1)[1].rsplit("\n[demo]", 1)[0])
    assert output["words"] == 19
    assert output["edits"] == ["removed filler words", "dropped trailing sentences"]
    assert lines[-1].endswith("done: one job, two crashes, nothing lost")
