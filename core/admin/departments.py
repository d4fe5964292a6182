"""Departments, which route tickets and group the agents who answer them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from threadline.core.admin.errors import Conflict, NotFound
from threadline.core.admin.names import required_name
from threadline.core.models import Department, user_departments


@dataclass(frozen=True)
class DepartmentSummary:
    id: int
    name: str
    description: str | None
    agent_count: int
    """Users who work for it (the support schema calls them agents, whatever their type)."""
    created_at: datetime


def add_department(session: Session, name: str, description: str | None = None) -> Department:
    name = required_name(name, "department")
    existing = session.scalar(select(Department).where(Department.name == name))
    if existing is not None:
        raise Conflict(f"department {name!r} already exists (department {existing.id})")
    department = Department(name=name, description=description or None)
    session.add(department)
    session.flush()
    return department


def list_departments(session: Session) -> list[DepartmentSummary]:
    members = func.count(user_departments.c.user_id)
    rows = session.execute(
        select(Department, members)
        .outerjoin(user_departments, user_departments.c.department_id == Department.id)
        .group_by(Department.id)
        .order_by(Department.name)
    )
    return [
        DepartmentSummary(
            department.id, department.name, department.description, count, department.created_at
        )
        for department, count in rows
    ]


def departments_named(session: Session, names: Iterable[str]) -> list[Department]:
    """The departments with exactly these names, or NotFound listing the ones that exist."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return []
    found = {
        department.name: department
        for department in session.scalars(select(Department).where(Department.name.in_(wanted)))
    }
    missing = [name for name in wanted if name not in found]
    if missing:
        known = session.scalars(select(Department.name).order_by(Department.name)).all()
        raise NotFound(
            f"unknown department {', '.join(map(repr, missing))}; "
            + (f"existing: {', '.join(known)}" if known else "no departments exist yet")
        )
    return [found[name] for name in wanted]
