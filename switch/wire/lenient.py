"""How POS inputs are read leniently: the platform's ``data`` wrapper, blanks as absent, envelope text.

Real checkout software is written against the national platform, not against gongji: it wraps
some inputs in ``data``, sends ``""`` for every blank field, numbers where a code is text, and
sometimes the whole ``input`` as a JSON string. The switch accepts all of that and answers
exactly; errors still name the field where the sender put it (``input.data.setl_id``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails

from switch.errors import json_kind

__all__ = ["DECODER", "DataWrapped", "JsonConstant", "Lenient", "NationalText", "blank_is_absent", "decode_input"]


class JsonConstant(float):
    """``NaN``, ``Infinity`` or ``-Infinity`` as read from a payload: a float, and one orjson will not
    write, so what is written with orjson (switch/wire/envelope.py) can tell it from every other value."""

    __slots__ = ()


# Every payload and string-held input is read with this: no binary float for money, and the constants marked.
DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=JsonConstant)


def blank_is_absent(value: Any) -> Any:
    """A dict without its ``""`` values: vendors' serializers send ``""`` for a blank optional field."""
    if isinstance(value, dict) and "" in value.values():
        return {k: v for k, v in value.items() if not (isinstance(v, str) and v == "")}
    return value


class Lenient(BaseModel):
    """POS inputs: the platform's many extra fields are ignored, and a blank field is an absent one."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _blanks_absent(cls, value: Any) -> Any:
        return blank_is_absent(value)


def _under_data(exc: ValidationError) -> ValidationError:
    """The same errors, located under ``data`` where the sender put the fields."""
    return ValidationError.from_exception_data(exc.title, [
        InitErrorDetails(type=e["type"], loc=("data", *e["loc"]), input=e["input"], ctx=e.get("ctx", {}))
        for e in exc.errors()])


class DataWrapped(Lenient):
    """An input the platform wraps in ``data{...}`` (1101, 2103/2208, 2601); v1 sends the fields bare.

    When ``data`` is there it is the input and the fields beside it are ignored, as the platform does.
    """

    @model_validator(mode="wrap")
    @classmethod
    def _national_layout(cls, value: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if not isinstance(value, dict) or "data" not in value:
            return handler(value)
        inner = value["data"]
        if not isinstance(inner, dict):
            raise ValidationError.from_exception_data(cls.__name__, [
                InitErrorDetails(type="dict_type", loc=("data",), input=inner)])
        try:
            return handler(inner)
        except ValidationError as exc:
            raise _under_data(exc) from None

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # One object schema for both layouts: the fields, plus ``data`` holding the same fields;
        # anyOf says which must be there.
        schema = handler.resolve_ref_schema(handler(core_schema))
        required = schema.pop("required", [])
        fields = {"type": "object", "properties": dict(schema["properties"]), "required": required}
        schema["properties"]["data"] = {**fields, "description": "the platform's layout: the same fields"}
        schema["anyOf"] = [{"required": required}, {"required": ["data"]}]
        schema["description"] = (f"{(cls.__doc__ or '').strip().splitlines()[0]} Two layouts: these fields "
                                 f"({', '.join(required)} required), or the platform's `data` holding them.")
        return schema


def decode_input(value: Any) -> Any:
    """The envelope's ``input``; a JSON string holding the object is read as that object."""
    if not isinstance(value, str):
        return value
    try:
        decoded = DECODER.decode(value)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"input is a string but not JSON: {exc}") from None
    except ArithmeticError:
        raise ValueError("input holds a number out of any usable range") from None
    if not isinstance(decoded, dict):
        raise ValueError(f"input is a string holding {json_kind(decoded)}, not an object")
    return decoded


def _text(value: Any) -> Any:
    """Envelope text fields: ``""`` is absent, and a number is its text (``1`` → ``"1"``)."""
    if isinstance(value, str) and value == "":
        return None
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        return str(value)
    return value


NationalText = Annotated[str | None, BeforeValidator(_text)]
