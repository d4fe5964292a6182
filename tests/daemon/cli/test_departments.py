"""``threadline departments add|list`` on each database."""

from __future__ import annotations

import json

from tests.daemon.cli.conftest import Threadline, columns


def test_departments_are_listed_with_their_agent_count(threadline: Threadline):
    added = threadline("departments", "add", "Sales", "--description", "New business\nand renewals")
    assert added.output == "added department 1: Sales\n"
    threadline("departments", "add", "Billing")
    threadline("users", "add", "Grace", "grace@example.com", "--department", "Sales")

    listed = threadline("departments", "list")

    assert listed.exit_code == 0
    assert columns(listed.output) == [
        ["ID", "NAME", "AGENTS", "DESCRIPTION"],
        ["2", "Billing", "0", "-"],
        ["1", "Sales", "1", "New business and renewals"],
    ]


def test_departments_list_as_json_keeps_the_description_as_written(threadline: Threadline):
    threadline("departments", "add", "Sales", "--description", "New business\nand renewals")

    listed = threadline("departments", "list", "--format", "json")

    (department,) = json.loads(listed.output)
    assert list(department) == ["id", "name", "description", "agent_count", "created_at"]
    assert department["description"] == "New business\nand renewals"
    assert department["agent_count"] == 0


def test_adding_a_department_twice_is_one_error_line(threadline: Threadline):
    threadline("departments", "add", "Sales")

    refused = threadline("departments", "add", "Sales")

    assert refused.exit_code == 1
    assert refused.stderr == "Error: department 'Sales' already exists (department 1)\n"
