"""Request and response models built from a model's serving signature (``model.json``).

The signature comes from the data contract, so the models follow whatever dataset the
project was initialised with: one field per feature, named after it; numbers are strict
(no booleans, no strings), finite (no NaN or Infinity) and within the contract's range and
float32's; categories are the contract's allowed values (integer codes as JSON integers);
booleans are JSON ``true``/``false``; ``null`` only where the contract allows nulls; every
feature required, nothing else allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    create_model,
    model_validator,
)

from tabpipe.serving.runtime import FLOAT32_MAX, Feature

STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _python_name(position: int) -> str:
    # Feature names need not be identifiers ("Length (mm)"): fields get safe names and the
    # feature name as their alias, which is what the JSON uses.
    return f"feature_{position}"


def value_type(feature: Feature) -> Any:
    """The type one value of a feature must have."""
    if feature.kind == "numeric":
        low = -FLOAT32_MAX if feature.minimum is None else max(feature.minimum, -FLOAT32_MAX)
        high = FLOAT32_MAX if feature.maximum is None else min(feature.maximum, FLOAT32_MAX)
        base: Any = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=low, le=high)]
    elif feature.kind == "boolean":
        base = Annotated[bool, Strict()]
    elif feature.categories and all(isinstance(c, int) for c in feature.categories):
        # Literal[1, 2] would take true and 1.0 for 1: a strict integer, then membership.
        base = Annotated[
            int,
            Strict(),
            AfterValidator(_one_of(feature.categories)),
            Field(json_schema_extra={"enum": list(feature.categories)}),
        ]
    else:
        base = Literal[tuple(feature.categories)]  # type: ignore[valid-type]
    return base | None if feature.nullable else base


def _one_of(allowed: Sequence[Any]) -> Any:
    shown = " or ".join(", ".join(map(str, allowed)).rsplit(", ", 1))

    def check(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"Input should be {shown}")
        return value

    return check


def _describe(feature: Feature) -> str:
    if feature.kind == "numeric":
        bounds = []
        if feature.minimum is not None:
            bounds.append(f">= {feature.minimum:g}")
        if feature.maximum is not None:
            bounds.append(f"<= {feature.maximum:g}")
        text = "number" + (f" ({', '.join(bounds)})" if bounds else "")
    elif feature.kind == "boolean":
        text = "true or false"
    else:
        text = f"one of {len(feature.categories)} categories"
    return text + ("; null if unknown" if feature.nullable else "")


def row_model(features: Sequence[Feature]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        _python_name(i): (value_type(f), Field(..., alias=f.name, description=_describe(f)))
        for i, f in enumerate(features)
    }
    return create_model("Row", __config__=STRICT, **fields)


def batch_model(row: type[BaseModel], max_batch: int) -> type[BaseModel]:
    rows = Annotated[list[row], Field(min_length=1, max_length=max_batch)]  # type: ignore[valid-type]
    return create_model(
        "Batch",
        __config__=STRICT,
        rows=(rows, Field(..., description=f"1 to {max_batch} rows")),
    )


def columns_model(features: Sequence[Feature], max_batch: int) -> type[BaseModel]:
    names = [f.name for f in features]

    def same_lengths(self: BaseModel) -> BaseModel:
        lengths = {name: len(getattr(self, _python_name(i))) for i, name in enumerate(names)}
        first = names[0]
        for name, length in lengths.items():
            if length != lengths[first]:
                raise ValueError(
                    f"column {name!r} has {length} values but {first!r} has {lengths[first]}: "
                    "every column must have the same length"
                )
        return self

    fields: dict[str, Any] = {
        _python_name(i): (
            Annotated[list[value_type(f)], Field(min_length=1, max_length=max_batch)],  # type: ignore[misc]
            Field(..., alias=f.name),
        )
        for i, f in enumerate(features)
    }
    columns = create_model(
        "Columns",
        __config__=STRICT,
        __validators__={"same_lengths": model_validator(mode="after")(same_lengths)},  # type: ignore[dict-item]
        **fields,
    )
    return create_model(
        "ColumnBatch",
        __config__=STRICT,
        columns=(columns, Field(..., description=f"one list per feature, 1 to {max_batch} long")),
    )


def prediction_model(task: str, classes: Sequence[str]) -> type[BaseModel]:
    if task == "regression":
        return create_model("Prediction", value=(float, ...))
    return create_model(
        "Prediction",
        label=(Literal[tuple(classes)], ...),  # type: ignore[valid-type,arg-type]
        probabilities=(
            dict[str, float],
            Field(..., description=f"one probability per class: {', '.join(classes)}"),
        ),
    )


def single_response_model(prediction: type[BaseModel]) -> type[BaseModel]:
    return create_model("PredictResponse", __base__=prediction, model_version=(str, ...))


def batch_response_model(prediction: type[BaseModel]) -> type[BaseModel]:
    return create_model(
        "BatchResponse",
        model_version=(str, ...),
        predictions=(list[prediction], ...),  # type: ignore[valid-type]
    )


class ErrorItem(BaseModel):
    loc: list[str | int]
    field: str | None = Field(None, description="the feature or field at fault, if any")
    msg: str
    type: str


class ErrorResponse(BaseModel):
    message: str = Field(..., description="every problem in one line, naming the fields")
    detail: list[ErrorItem]


def rows_from(model: BaseModel) -> list[dict[str, Any]]:
    """The validated rows of a Batch as {feature name: value} mappings."""
    return [row.model_dump(by_alias=True) for row in model.rows]  # type: ignore[attr-defined]
