"""Run many scenario files through the `inburgering` command in one process (the tests'
hostile corpus): `python -m tests.corpus_runner MANIFEST`, MANIFEST a JSON list of
{"path": ..., "args": [...]} (a scenario file), or {"path": NAME, "argv": [...]} (any command). Prints one JSON line per file as soon as it is answered:
its exit status, stdout, stderr and, when the command raised, the traceback."""

from __future__ import annotations

import json
import sys
import traceback

from typer.testing import CliRunner

from inburgering.cli import app


def main(manifest: str) -> None:
    runner = CliRunner()
    for item in json.loads(open(manifest, encoding="utf-8").read()):
        argv = item["argv"] if "argv" in item else ["scenario", "run", item["path"], *item["args"]]
        result = runner.invoke(app, argv)
        raised = None
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raised = "".join(traceback.format_exception(result.exception))
        print(json.dumps({"path": item["path"], "exit": result.exit_code, "stdout": result.stdout,
                          "stderr": result.stderr, "raised": raised}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
