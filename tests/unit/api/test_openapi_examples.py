"""Every request body of the API is documented with an example, and every example is valid."""

import typing

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from stepwise.api.app import create_app


def body_models():
    app = create_app()
    app.openapi()  # builds every route
    for route in app.routes:
        if isinstance(route, APIRoute) and route.body_field is not None:
            annotation = route.body_field.field_info.annotation
            models = [
                a for a in typing.get_args(annotation) or (annotation,) if a is not type(None)
            ]
            for model in models:
                if isinstance(model, type) and issubclass(model, BaseModel):
                    yield f"{sorted(route.methods)[0]} {route.path}", model


BODIES = sorted(set(body_models()), key=lambda pair: pair[0])


def test_there_are_request_bodies_to_check():
    assert len(BODIES) >= 15


@pytest.mark.parametrize(("route", "model"), BODIES, ids=[route for route, _ in BODIES])
def test_each_request_body_has_valid_examples(route, model):
    examples = model.model_json_schema().get("examples")
    assert examples, f"{route}: {model.__name__} has no example"
    for example in examples:
        model.model_validate(example)  # raises if the documented example would be refused
