"""Settings sections that the core rules read."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.config_types import Secret

DEFAULT_DATABASE_URL = "sqlite:///var/threadline.db"

_DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}


class Section(BaseModel):
    """Base of every section: unknown keys are mistakes, reported rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: Annotated[str, Secret()] = DEFAULT_DATABASE_URL
    pool_size: int = Field(default=5, ge=1, le=100)

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL; use sqlite:///PATH or postgresql://USER@HOST/DB"
            ) from None
        driver = _DRIVERS.get(url.drivername)
        if driver is None:
            raise ValueError(
                f"unsupported database {url.drivername!r}; use sqlite:///PATH or "
                "postgresql://USER@HOST/DB"
            )
        return url.set(drivername=driver).render_as_string(hide_password=False)


class IdentitySettings(Section):
    default_region: str = Field(default="", pattern=r"^([A-Z]{2})?$")
    """ISO 3166 region for phone numbers written without a country code; empty rejects them."""
    unknown_sender: Literal["create", "park"] = "create"
    """``create`` a client for a sender no external id names; ``park`` their messages as failed
    for an operator to look at."""
