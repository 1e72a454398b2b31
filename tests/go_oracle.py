"""A tiny Go program, built from the standard library only, that answers how Go (and so Velero)
reads a value: ``time.ParseDuration``, ``strconv.ParseBool``, and Velero's command parsing
(``encoding/json`` into ``[]string`` when the first byte is ``[``).

Debian's ``golang-go`` builds it offline; tests skip with the reason when ``go`` is missing.
One process answers every question of a test session, one JSON line in, one JSON line out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

SOURCE = r"""
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"time"
)

type question struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

type answer struct {
	Ok      bool     `json:"ok"`
	Nanos   int64    `json:"nanos,omitempty"`
	Bool    bool     `json:"bool,omitempty"`
	Command []string `json:"command,omitempty"`
}

// parseStringToCommand is Velero's, from internal/hook/item_hook_handler.go.
func parseStringToCommand(commandValue string) []string {
	var command []string
	if commandValue[0] == '[' {
		if err := json.Unmarshal([]byte(commandValue), &command); err != nil {
			command = []string{commandValue}
		}
	} else {
		command = append(command, commandValue)
	}
	return command
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var q question
		a := answer{}
		if err := json.Unmarshal(in.Bytes(), &q); err == nil {
			switch q.Kind {
			case "duration":
				d, err := time.ParseDuration(q.Value)
				a.Ok, a.Nanos = err == nil, int64(d)
			case "bool":
				b, err := strconv.ParseBool(q.Value)
				a.Ok, a.Bool = err == nil, b
			case "command":
				a.Ok, a.Command = q.Value != "", nil
				if q.Value != "" {
					a.Command = parseStringToCommand(q.Value)
				}
			}
		}
		out.Encode(a)
	}
}
"""


class GoOracle:
    """The running oracle process."""

    def __init__(self, binary: Path):
        self.process = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        encoding="utf-8", bufsize=1)

    def ask(self, kind: str, value: str) -> dict[str, object]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"kind": kind, "value": value}) + "\n")
        self.process.stdin.flush()
        answer: dict[str, object] = json.loads(self.process.stdout.readline())
        return answer

    def duration(self, value: str) -> int | None:
        """Nanoseconds, or None where Go refuses the string."""
        answer = self.ask("duration", value)
        return int(answer.get("nanos", 0)) if answer["ok"] else None  # type: ignore[call-overload]

    def command(self, value: str) -> list[str]:
        answer = self.ask("command", value)
        return list(answer.get("command") or [])  # type: ignore[call-overload]

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)


def build(directory: Path) -> Path | str:
    """Build the oracle into ``directory``; the path, or the reason it cannot be built."""
    go = shutil.which("go")
    if go is None:
        return "no Go toolchain (Debian: apt-get install golang-go)"
    (directory / "main.go").write_text(SOURCE)
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOCACHE": str(directory / "cache"),
           "GOPATH": str(directory / "gopath"), "GO111MODULE": "on", "CGO_ENABLED": "0"}
    done = subprocess.run([go, "build", "-o", str(directory / "oracle"), "main.go"], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        return f"go build failed: {done.stderr.strip()[:500]}"
    return directory / "oracle"
