"""Building blocks of the answer models: the strict base, and amounts and times as the switch sends them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ["Amount", "Date", "Out", "Timestamp"]

Amount = Annotated[str, StringConstraints(pattern=r"^-?[0-9]+\.[0-9]{2}$")]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Date = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


class Out(BaseModel):
    """Exactly the fields the switch sends; a new field must be added here (the example test says so)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
