"""A stdout callback for the tests: one JSON object with every task's result
per host and the recap (the json callback lives in ansible.posix, which
ansible-core does not ship)."""

from __future__ import annotations

import json
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: json_results
    type: stdout
    short_description: every task result and the recap as one JSON object (pmemctl tests)
    description:
      - Prints, at the end of the run, the results per task and host and the per-host recap counts.
"""


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "json_results"

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[dict[str, Any]] = []
        self.by_uuid: dict[str, dict[str, Any]] = {}

    def _start(self, task: Any) -> None:
        entry: dict[str, Any] = {"task": {"name": task.get_name()}, "hosts": {}}
        self.tasks.append(entry)
        self.by_uuid[task._uuid] = entry

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._start(task)

    def _record(self, result: Any, **flags: Any) -> None:
        entry = self.by_uuid.get(result._task._uuid)
        if entry is None:
            self._start(result._task)
            entry = self.by_uuid[result._task._uuid]
        data = dict(result._result)
        data.update(flags)
        entry["hosts"][result._host.get_name()] = data

    def v2_runner_on_ok(self, result: Any) -> None:
        self._record(result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats: Any) -> None:
        summary = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self._display.display(json.dumps({"plays": [{"tasks": self.tasks}], "stats": summary}, default=str))
